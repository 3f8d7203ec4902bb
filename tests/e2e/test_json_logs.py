"""LOG_FORMAT=json: one JSON object per line, with the ids of whom and what a line is about, never message text."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.e2e.test_chat import last_answer, send
from tests.fake_upstream import FakeUpstream, Reply

SECRET_WORD = "quokkazebra4711"


def test_json_log_lines_carry_ids_and_never_message_content(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(Reply.fail(500))
    app = app_server({"LOG_FORMAT": "json", "MAX_RETRIES": "0"})
    page.goto(app.url)
    send(page, f"Please remember {SECRET_WORD}")
    expect(last_answer(page)).to_have_attribute("data-status", "error")
    page.get_by_role("button", name="Retry").click()
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    expect(last_answer(page)).to_contain_text(SECRET_WORD)  # the fake echoes it: it went upstream
    page.close()
    app.stop()
    text = app.log_text()
    assert SECRET_WORD not in text
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("=====")]  # harness marks
    entries = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    failed = [e for e in entries if e["logger"] == "services.generation" and "failed" in e["message"]]
    assert len(failed) == 1
    assert failed[0]["level"] == "WARNING" and failed[0]["user_id"] and failed[0]["conversation_id"]
    assert isinstance(failed[0]["message_id"], int)
