"""Issue #10 "Conversations" as a user does it: the per-item actions menu (rename, pin, export,
delete), select mode (bulk delete and export), day groups in the browser's time zone, and import
from the Settings dialog. The real app, real Chromium, downloads through Playwright's event."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Download, Locator, Page, expect

from tests.e2e.test_chat import chat_url
from tests.fake_upstream import FakeUpstream, Reply
from tests.unit.test_workspace import without_volatile

SHOTS = Path(os.environ.get("WORKSPACE_SHOTS", Path(__file__).resolve().parent.parent / ".artifacts"))


SETTLED = "document.getAnimations().every(a => a.effect?.getTiming().iterations === Infinity)"


def shot(page: Page, name: str) -> None:
    """After menus and dialogs finished fading in (Quasar starts those transitions a frame late)."""
    page.wait_for_function(SETTLED)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"workspace-{name}.png", animations="disabled")


def start_chat(page: Page, url: str, text: str) -> str:
    """A new conversation with one finished answer; returns its URL."""
    page.goto(url)
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")
    expect(page.locator('[data-role="assistant"]').last).to_have_attribute("data-status", "done")
    return chat_url(page)


def sidebar(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Conversations")


def item_actions(page: Page, title: str) -> Locator:
    """The "Conversation actions" button of the sidebar item with this title."""
    row = sidebar(page).locator(".conv-row").filter(has=page.get_by_role("link", name=title, exact=True))
    return row.get_by_role("button", name="Conversation actions")


def choose(page: Page, title: str, *path: str) -> None:
    item_actions(page, title).click()
    for name in path:
        page.get_by_role("menuitem", name=name, exact=True).click()


def download(page: Page, click) -> tuple[Download, str]:
    with page.expect_download() as info:
        click()
    d = info.value
    return d, Path(d.path()).read_text(encoding="utf-8")


def headings(page: Page) -> list[str]:
    return sidebar(page).get_by_role("heading").all_inner_texts()


def test_rename_checks_the_title_and_every_tab_sees_the_new_one(app_server, page: Page) -> None:
    app = app_server()
    url = start_chat(page, app.url, "plan a trip")
    other = page.context.new_page()
    other.goto(url)
    expect(sidebar(other).get_by_role("link", name="plan a trip")).to_be_visible()
    item_actions(page, "plan a trip").click()
    expect(page.get_by_role("menuitem", name="Rename")).to_be_visible()
    shot(page, "menu")
    page.get_by_role("menuitem", name="Rename").click()
    dialog = page.get_by_role("dialog")
    title = dialog.get_by_role("textbox", name="Title")
    expect(title).to_have_value("plan a trip")
    title.fill("   ")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_contain_text("Type a title.")
    title.fill("x" * 201)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_contain_text("at most 200 characters")
    expect(title).to_have_value("x" * 201)  # nothing lost
    title.fill("Kyoto in spring")
    shot(page, "rename-dialog")
    title.press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("conversation-title")).to_have_text("Kyoto in spring")
    expect(sidebar(page).get_by_role("link", name="Kyoto in spring")).to_be_visible()
    expect(sidebar(other).get_by_role("link", name="Kyoto in spring")).to_be_visible()
    expect(other.get_by_test_id("conversation-title")).to_have_text("Kyoto in spring")
    page.reload()
    expect(page.get_by_test_id("conversation-title")).to_have_text("Kyoto in spring")


def test_pinned_items_lead_under_their_own_heading(app_server, page: Page) -> None:
    app = app_server()
    start_chat(page, app.url, "first chat")
    start_chat(page, app.url, "second chat")
    expect(sidebar(page).get_by_role("heading")).to_have_text(["Today"])
    choose(page, "first chat", "Pin")
    expect(sidebar(page).get_by_role("heading")).to_have_text(["Pinned", "Today"])
    expect(sidebar(page).get_by_role("link")).to_have_text(["first chat", "second chat"])
    shot(page, "grouped-sidebar")
    choose(page, "first chat", "Unpin")
    expect(sidebar(page).get_by_role("heading")).to_have_text(["Today"])
    expect(sidebar(page).get_by_role("link")).to_have_text(["second chat", "first chat"])


def test_export_downloads_markdown_and_json_named_after_the_title(app_server, page: Page) -> None:
    app = app_server()
    start_chat(page, app.url, "Budget: Q1/Q2?")
    item_actions(page, "Budget: Q1/Q2?").click()
    page.get_by_role("menuitem", name="Export").click()
    expect(page.get_by_role("menuitem", name="Markdown")).to_be_visible()
    shot(page, "export-submenu")
    md, text = download(page, lambda: page.get_by_role("menuitem", name="Markdown").click())
    assert md.suggested_filename == "budget-q1-q2.md"
    assert text.startswith("# Budget: Q1/Q2?\n") and "You said: *Budget: Q1/Q2?*" in text
    js, raw = download(page, lambda: choose(page, "Budget: Q1/Q2?", "Export", "JSON"))
    assert js.suggested_filename == "budget-q1-q2.json"
    [conv] = json.loads(raw)["conversations"]
    assert conv["title"] == "Budget: Q1/Q2?"
    assert [(m["role"], m["status"]) for m in conv["messages"]] == [("user", "done"), ("assistant", "done")]
    assert conv["messages"][1]["model"] == "fake-model" and conv["messages"][1]["reply_to"] == 0


def test_deleting_the_open_conversation_stops_its_answer_and_leaves_it(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    start_chat(page, app.url, "keep me")
    fake_upstream.enqueue(Reply(text="word " * 2000, interval=0.02))
    page.goto(app.url)
    page.get_by_role("textbox", name="Message").fill("delete me")
    page.get_by_role("textbox", name="Message").press("Enter")
    expect(page.locator('[data-role="assistant"]')).to_have_attribute("data-status", "streaming")
    doomed = chat_url(page)
    other = page.context.new_page()
    other.goto(app.url)
    expect(sidebar(other).get_by_role("link", name="delete me")).to_be_visible()
    choose(page, "delete me", "Delete")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete “delete me”?")
    shot(page, "delete-dialog")
    dialog.get_by_role("button", name="Delete").click()
    expect(page).to_have_url(app.url.rstrip("/") + "/")
    expect(page.get_by_text("What can I help with?")).to_be_visible()
    expect(sidebar(page).get_by_role("link", name="delete me")).to_have_count(0)
    expect(sidebar(other).get_by_role("link", name="delete me")).to_have_count(0)
    expect(sidebar(other).get_by_role("link", name="keep me")).to_be_visible()
    ended = fake_upstream.wait_for_end(2)  # the running answer was stopped, not left to run
    assert ended.disconnected_at is not None and not ended.done_sent
    page.goto(doomed)
    expect(page.get_by_text("This conversation does not exist, or it is not yours.")).to_be_visible()


def test_cancel_keeps_the_conversation(app_server, page: Page) -> None:
    app = app_server()
    start_chat(page, app.url, "still here")
    choose(page, "still here", "Delete")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.reload()
    expect(sidebar(page).get_by_role("link", name="still here")).to_be_visible()
    expect(page.locator('[data-role="assistant"]')).to_have_count(1)


def test_select_mode_exports_and_deletes_several_at_once(app_server, page: Page) -> None:
    app = app_server()
    for text in ("alpha", "beta", "gamma"):
        start_chat(page, app.url, text)
    page.goto(app.url)
    page.get_by_role("button", name="Select").click()
    for text in ("alpha", "gamma"):
        sidebar(page).get_by_role("checkbox", name=f"Select {text}").click()
    expect(page.get_by_text("2 selected")).to_be_visible()
    shot(page, "select-mode")
    export, raw = download(page, lambda: page.get_by_role("button", name="Export selected").click())
    assert export.suggested_filename.startswith("streamchat-") and export.suggested_filename.endswith(".json")
    assert sorted(c["title"] for c in json.loads(raw)["conversations"]) == ["alpha", "gamma"]
    page.get_by_role("button", name="Delete selected").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete 2 conversations?")
    dialog.get_by_role("button", name="Delete").click()
    expect(sidebar(page).get_by_role("link")).to_have_text(["beta"])
    page.reload()
    expect(sidebar(page).get_by_role("link")).to_have_text(["beta"])


def test_import_round_trips_and_refuses_bad_files_whole(app_server, page: Page, browser: Browser) -> None:
    app = app_server()
    start_chat(page, app.url, "round trip")
    choose(page, "round trip", "Pin")
    expect(sidebar(page).get_by_role("heading")).to_have_text(["Pinned"])  # its row is rebuilt pinned first
    _, first = download(page, lambda: choose(page, "round trip", "Export", "JSON"))

    fresh = browser.new_context()  # another browser: another user, with no conversations
    them = fresh.new_page()
    them.goto(app.url)
    them.get_by_role("button", name="Settings", exact=True).click()
    dialog = them.get_by_role("dialog")
    upload = dialog.locator("input[type=file]")
    upload.set_input_files({"name": "notes.json", "mimeType": "application/json", "buffer": b"not json at all"})
    expect(dialog.get_by_role("status")).to_have_text(re.compile("Nothing was imported. The file is not JSON"))
    broken = json.loads(first)
    broken["conversations"].append({**broken["conversations"][0], "messages": [{"id": 5}]})
    upload.set_input_files({"name": "b.json", "mimeType": "application/json", "buffer": json.dumps(broken).encode()})
    expect(dialog.get_by_role("status")).to_contain_text("Nothing was imported. The file is not a valid")
    expect(sidebar(them).get_by_role("link")).to_have_count(0)  # the good first one was not kept
    upload.set_input_files({"name": "e.json", "mimeType": "application/json", "buffer": first.encode()})
    expect(dialog.get_by_role("status")).to_have_text("Imported 1 conversation.")
    shot(them, "settings-import")
    dialog.get_by_role("button", name="Close").click()
    expect(sidebar(them).get_by_role("heading")).to_have_text(["Pinned"])
    _, again = download(them, lambda: choose(them, "round trip", "Export", "JSON"))
    assert json.dumps(without_volatile(again)) == json.dumps(without_volatile(first))
    them.get_by_role("link", name="round trip").click()
    expect(them.locator('[data-role="assistant"]')).to_contain_text("You said: round trip")
    fresh.close()


def test_a_send_in_another_tab_moves_its_chat_up_and_keeps_the_rest_of_the_list(app_server, page: Page) -> None:
    """The list is updated in place, not rebuilt: a conversation link the reader has focused with the
    keyboard keeps the focus while another tab's send moves its own chat to the top."""
    app = app_server()
    first = start_chat(page, app.url, "first chat")
    start_chat(page, app.url, "second chat")
    start_chat(page, app.url, "third chat")
    links = sidebar(page).get_by_role("link")
    expect(links).to_have_text(["third chat", "second chat", "first chat"])
    other = page.context.new_page()
    other.goto(first)
    reading = sidebar(page).get_by_role("link", name="second chat", exact=True)
    reading.focus()
    box = other.get_by_role("textbox", name="Message")
    box.fill("one more thing")
    box.press("Enter")
    expect(links).to_have_text(["first chat", "third chat", "second chat"])
    expect(reading).to_be_focused()
    expect(other.locator('[data-role="assistant"]').last).to_have_attribute("data-status", "done")
    expect(reading).to_be_focused()


def test_day_groups_follow_the_browsers_time_zone(app_server, page: Page, browser: Browser) -> None:
    """An answer at 23:59 UTC yesterday is "Today" in Tokyo (or, late in the UTC day, the reverse)."""
    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime.now(UTC)
    if now.astimezone(tokyo).date() == now.date():
        when = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(minutes=1)
    else:  # Tokyo is already on the next day
        when = now.astimezone(tokyo).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(minutes=1)
    expected_tokyo = "Today" if when.astimezone(tokyo).date() == now.astimezone(tokyo).date() else "Yesterday"
    expected_utc = "Today" if when.date() == now.date() else "Yesterday"
    assert expected_tokyo != expected_utc
    stamp = when.isoformat()
    doc = {"format": "streamchat.conversations", "version": 1, "conversations": [{
        "title": "late night", "created_at": stamp, "updated_at": stamp, "messages": [
            {"id": 0, "role": "user", "content": "hi", "created_at": stamp, "updated_at": stamp}]}]}
    context = browser.new_context(timezone_id="Asia/Tokyo")
    tab = context.new_page()
    tab.goto(app_server().url)
    tab.get_by_role("button", name="Settings", exact=True).click()
    tab.get_by_role("dialog").locator("input[type=file]").set_input_files(
        {"name": "t.json", "mimeType": "application/json", "buffer": json.dumps(doc).encode()})
    expect(tab.get_by_role("dialog").get_by_role("status")).to_have_text("Imported 1 conversation.")
    tab.get_by_role("dialog").get_by_role("button", name="Close").click()
    expect(sidebar(tab).get_by_role("heading")).to_have_text([expected_tokyo])
    tab.reload()  # remembered for the next page, so it is right from the first paint
    expect(sidebar(tab).get_by_role("heading")).to_have_text([expected_tokyo])
    context.close()
    page.goto(tab.url)  # the default context is in UTC, but it is another user: nothing listed
    expect(sidebar(page).get_by_role("link")).to_have_count(0)
