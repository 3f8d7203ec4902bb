"""Over a per-user limit the page says so, the typed text stays in the box, and nothing goes upstream."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.test_chat import last_answer, send
from tests.e2e.test_faults import screenshot
from tests.fake_upstream import FakeUpstream


def test_over_the_rate_limit_the_page_says_so_and_keeps_the_text(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server({"RATE_LIMIT_PER_MIN": "1"})
    page.goto(app.url)
    send(page, "The first question")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    send(page, "A second question, too soon")
    expect(page.get_by_text("limit of 1 message per minute", exact=False)).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_have_value("A second question, too soon")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    expect(page.locator('[data-role="user"]')).to_have_count(1)
    screenshot(page, "rate-limited.png")
    assert len(fake_upstream.requests) == 1
