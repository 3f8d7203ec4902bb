"""Hostile model output in the real app: nothing runs, nothing blanks the page, nothing leaks."""

from __future__ import annotations

from playwright.sync_api import Page, Request, expect

from tests.e2e.test_chat import last_answer, send
from tests.fake_upstream import FakeUpstream, Reply

HOSTILE = (
    "Intro paragraph.\n\n"
    "<style>body{display:none}</style>\n\n"
    "After style.\n\n"
    "<script>window.pwned = 'script'</script>\n\n"
    '<img src="x" onerror="window.pwned = \'onerror\'">\n\n'
    '<div style="position:fixed;inset:0;background:red;z-index:9999">overlay</div>\n\n'
    "[click me](javascript:window.pwned='link')\n\n"
    "![tracker](http://127.0.0.1:9/pixel.png?secret=conversation-text)\n\n"
    "```html\n<script>alert(1)</script>\n```\n\n"
    "Last line survives."
)


def test_hostile_markdown_is_inert_and_remote_images_wait_for_a_click(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(Reply(text=HOSTILE, interval=0.005))
    app = app_server()
    image_requests: list[str] = []

    def on_request(request: Request) -> None:
        if "pixel.png" in request.url:
            image_requests.append(request.url)

    page.on("request", on_request)
    page.goto(app.url)
    send(page, "Be evil")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer).to_contain_text("Last line survives.")
    expect(answer).to_contain_text("After style.")
    expect(page.locator("body")).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    assert page.evaluate("window.pwned") is None
    assert answer.locator("style, script, iframe, [onerror], [style*=fixed]").count() == 0
    expect(answer.locator("pre code")).to_contain_text("<script>alert(1)</script>")  # shown as text
    link = answer.get_by_role("link", name="click me")
    assert link.count() == 0 or not (link.get_attribute("href") or "").startswith("javascript")
    placeholder = answer.get_by_role("button", name="tracker")
    expect(placeholder).to_contain_text("127.0.0.1")
    assert image_requests == []  # nothing fetched on its own
    placeholder.click()
    expect(answer.locator("img")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('[data-role=assistant] img').complete")
    assert len(image_requests) == 1
    assert page.evaluate("window.pwned") is None


def test_links_open_in_a_new_tab_without_referrer(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply(text="See [the docs](https://example.com/docs)."))
    app = app_server()
    page.goto(app.url)
    send(page, "Link please")
    link = last_answer(page).get_by_role("link", name="the docs")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
