"""Smoke: the harness can start the real app, drive it in Chromium and see it talk to the fake."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.fake_upstream import FakeUpstream


@pytest.mark.postgres_too
def test_send_and_stream_a_reply(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    app = app_server()
    page.goto(app.url)
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_be_visible()
    box.fill("hello")
    box.press("Enter")

    answer = page.locator('[data-role="assistant"][data-status="done"]')
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text("You said: hello")  # the fake's default reply, rendered markdown
    expect(answer.locator("li")).to_have_count(2)

    req = fake_upstream.wait_for_request(1)
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer test-key"
    assert req.body["model"] == "fake-model"
    assert req.messages[-1] == {"role": "user", "content": "hello"}
    assert fake_upstream.wait_for_end(1).done_sent
