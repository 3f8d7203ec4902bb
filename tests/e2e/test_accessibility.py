"""#10: keyboard, screen reader and phone — as a person using them meets the app."""

from __future__ import annotations

import threading

from playwright.sync_api import Page, expect

from tests.e2e.axe import serious_violations
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_chat import last_answer, send, settled
from tests.fake_upstream import FakeUpstream, Reply

SENTENCES = "It is **sunny** today. Take a [hat](https://example.com/hat)! Will it rain?\n\nNo"
HEARD = ["It is sunny today.", "Take a hat!", "Will it rain?", "No", "Answer complete."]


def _no_serious_violations(page: Page, screen: str) -> None:
    found = serious_violations(page)
    assert not found, f"{screen}: {found}"


def test_main_screens_have_no_serious_accessibility_violations(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    hold = threading.Event()
    fake_upstream.enqueue(Reply(text="Hello there. " * 20, hold=hold, interval=0.01))
    app = app_server()
    page.goto(app.url)
    expect(page.locator("html")).to_have_attribute("lang", "en-US")
    expect(page.locator("h1")).to_have_count(1)
    _no_serious_violations(page, "empty")
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(page.get_by_role("dialog")).to_contain_text("Ctrl+K")
    _no_serious_violations(page, "shortcuts dialog")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_role("button", name="API keys").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    _no_serious_violations(page, "API keys dialog")
    page.keyboard.press("Escape")
    send(page, "Weather?")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "streaming")
    _no_serious_violations(page, "waiting")
    hold.set()
    expect(answer).to_contain_text("Hello there.")
    _no_serious_violations(page, "streaming")
    expect(answer).to_have_attribute("data-status", "done")
    _no_serious_violations(page, "done")
    page.get_by_role("button", name="Dark mode").click()
    expect(page.locator("body.body--dark")).to_have_count(1)
    _no_serious_violations(page, "done, dark")


def test_a_screen_reader_hears_each_finished_sentence_once_not_every_frame(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(Reply(text=SENTENCES, interval=0.02))
    app = app_server()
    page.goto(app.url)
    send(page, "Weather?")
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    announcer = page.get_by_test_id("announcer")
    expect(announcer.locator("> *")).to_have_text(HEARD)
    # Nothing around the answer is a live region of its own: it would read every reveal step.
    live = answer.evaluate("""el => { const found = [];
        for (let n = el; n; n = n.parentElement) if (n.getAttribute('aria-live') || n.getAttribute('role') === 'log')
            found.push(n.className); return found; }""")
    assert live == []


def test_stopping_is_announced(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply(text="One. " * 500, interval=0.02))
    app = app_server()
    page.goto(app.url)
    send(page, "Count")
    answer = last_answer(page)
    expect(answer).to_contain_text("One.")
    page.get_by_role("heading", name="streamchat").click()  # the focus leaves the composer
    page.keyboard.press("Escape")  # Esc stops wherever the focus is
    expect(answer).to_have_attribute("data-status", "stopped")
    expect(page.get_by_test_id("announcer").locator("> *").last).to_have_text("Stopped.")


def test_keyboard_shortcuts(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply(text="Copy **me**, please."))
    app = app_server()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.url)
    page.goto(app.url)
    send(page, "Hi")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    page.get_by_role("heading", name="streamchat").click()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog")
    for keys in ("Ctrl+Shift+O", "Ctrl+K", "Esc", "Ctrl+Shift+C", "?"):
        expect(dialog).to_contain_text(keys)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    page.keyboard.press("Control+Shift+C")
    page.wait_for_function("async () => (await navigator.clipboard.readText()) === 'Copy **me**, please.'")
    page.keyboard.press("Control+k")
    expect(page.get_by_role("textbox", name="Search conversations")).to_be_focused()
    page.keyboard.type("?")  # typing in a box is typing, not a shortcut
    expect(page.get_by_role("textbox", name="Search conversations")).to_have_value("?")
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.keyboard.press("Control+Shift+O")
    expect(page).to_have_url(app.url + "/")
    expect(page.get_by_text("What can I help with?")).to_be_visible()


def test_phone_layout(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    wide = "```\n" + "x = 1  # " + "long line " * 40 + "\n```\n\n"
    wide += "| " + " | ".join(f"col {i}" for i in range(12)) + " |\n"
    wide += "|" + "---|" * 12 + "\n| " + " | ".join("value" for _ in range(12)) + " |\n\nAnd " + "words " * 80
    fake_upstream.enqueue(Reply(text=wide))
    app = app_server()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(app.url)
    drawer_link = page.get_by_role("button", name="New chat")
    expect(drawer_link).not_to_be_in_viewport()  # the sidebar is a closed drawer
    send(page, "Wide things")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    settled(last_answer(page))  # its widths are measured: all of it on screen
    scroll = "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    assert page.evaluate(scroll) <= 0  # no sideways scrolling of the page...
    code = last_answer(page).locator("pre").first
    assert code.evaluate("el => el.scrollWidth > el.clientWidth")  # ...except inside the code block
    table = last_answer(page).locator("table")
    assert table.evaluate("el => el.scrollWidth > el.clientWidth")  # and a wide table, in its box
    cell = table.locator("td").first.bounding_box()
    assert cell is not None and cell["height"] < 40  # "value" on one line, not a letter per line
    composer = page.get_by_role("textbox", name="Message")
    expect(composer).to_be_in_viewport()
    composer.focus()
    page.set_viewport_size({"width": 390, "height": 450})  # what the on-screen keyboard leaves
    expect(composer).to_be_in_viewport()
    page.set_viewport_size({"width": 390, "height": 844})
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "phone-light.png")  # to look at
    page.get_by_role("button", name="Dark mode").click()
    page.screenshot(path=ARTIFACTS / "phone-dark.png")  # to look at
    page.get_by_role("button", name="Toggle sidebar").click()
    expect(drawer_link).to_be_in_viewport()
    page.screenshot(path=ARTIFACTS / "phone-drawer.png")  # to look at
    assert "interactive-widget=resizes-content" in page.locator('meta[name="viewport"]').get_attribute("content")


def test_workspace_menus_and_dialogs_have_no_serious_accessibility_violations(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    from tests.e2e.test_workspace import item_actions

    fake_upstream.enqueue(Reply(text="Noted."))
    app = app_server()
    page.goto(app.url)
    send(page, "Plan the trip")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    item_actions(page, "Plan the trip").click()
    expect(page.get_by_role("menuitem", name="Rename")).to_be_visible()
    _no_serious_violations(page, "conversation actions menu")
    page.get_by_role("menuitem", name="Rename").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    _no_serious_violations(page, "rename dialog")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    item_actions(page, "Plan the trip").click()
    page.get_by_role("menuitem", name="Delete").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    _no_serious_violations(page, "delete dialog")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_role("button", name="Select").click()
    _no_serious_violations(page, "select mode")
    page.get_by_role("button", name="Conversation settings").click()
    expect(page.get_by_role("dialog", name="Conversation settings")).to_be_visible()
    _no_serious_violations(page, "conversation settings dialog")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_role("button", name="Settings", exact=True).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    _no_serious_violations(page, "settings dialog")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import conversations").click()
    assert chooser.value.element.get_attribute("accept") == ".json,application/json"
    chooser.value.set_files({"name": "notes.json", "mimeType": "application/json", "buffer": b"not json"})
    expect(page.get_by_role("dialog").get_by_role("status")).to_contain_text("Nothing was imported.")
