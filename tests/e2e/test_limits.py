"""Over a per-user limit, or the length limit, the page says so, the typed text stays in (or comes back to)
the box, and nothing goes upstream."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
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


def test_a_message_over_the_length_limit_is_refused_and_given_back_whole(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    page.goto(app.url)
    text = "A pasted log line that goes on and on.\n" * 1_000  # 39,000 characters; the limit is 32,000
    send(page, text)
    expect(page.get_by_text("Your message is 39,000 characters; the limit is 32,000.", exact=False)).to_be_visible()
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_have_value(text)  # every character back in the box, to shorten
    height = page.viewport_size["height"] if page.viewport_size else 0
    bounds = box.bounding_box()
    assert bounds is not None and bounds["height"] <= 0.45 * height  # it scrolls inside ...
    expect(page.get_by_text("What can I help with?")).to_be_in_viewport()  # ... and hides nothing
    page.screenshot(path=ARTIFACTS / "too-long.png")
    expect(page.locator('[data-role="user"]')).to_have_count(0)
    assert not fake_upstream.requests
    assert "Traceback" not in app.log_text()
