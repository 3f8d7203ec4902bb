"""Around a send, what the user types is never lost nor mixed: the box empties the moment the text is
handed over, words typed after it are the next message, and a send that never arrived comes back."""

from __future__ import annotations

import re
import sqlite3

from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.test_chat import chat_url, last_answer, send
from tests.fake_upstream import FakeUpstream

SEND_EVENT = r'{\"key\":\"send\"'  # the composer's event, as NiceGUI's socket carries it (args JSON in JSON)


def test_text_typed_while_a_send_is_handled_stays_in_the_box(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    page.goto(app.url)
    expect(page.get_by_text("What can I help with?")).to_be_visible()
    lock = sqlite3.connect(app.data_dir / "streamchat.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # another process holds the database: the send waits for it
    try:
        send(page, "first question")  # in a new chat, which gets its address only once it is saved
        expect(page.get_by_role("button", name="Stop")).to_be_visible()  # the server is handling the send
        box = page.get_by_role("textbox", name="Message")
        expect(box).to_have_value("")  # handed over: the box is free at once, not when the send returns
        box.press_sequentially("and my next one")
    finally:
        lock.rollback()  # the send's rows go in; SQLite's busy handler was sleeping long before this
        lock.close()
    expect(page.locator('[data-role="user"]').last).to_have_text("first question")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    expect(box).to_have_value("and my next one")
    address = chat_url(page)
    page.reload()  # and they are this chat's draft, as if typed after the send
    expect(page.locator('[data-role="user"]').last).to_have_text("first question")
    expect(page.get_by_role("textbox", name="Message")).to_have_value("and my next one")
    # typed before the chat had its address, they were saved as the new chat's draft: moved, not copied
    page.wait_for_function("() => localStorage.getItem('streamchat.draft.new') === null")
    page.goto(app.url)
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")
    page.goto(address)
    expect(page.get_by_role("textbox", name="Message")).to_have_value("and my next one")
    assert "Traceback" not in app.log_text()


def test_a_send_lost_on_the_way_to_the_server_is_back_in_the_box_after_a_reload(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    lost: list[str | bytes] = []

    def relay(ws: WebSocketRoute) -> None:
        """The page's socket, except that the first send never reaches the server."""
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if not lost and isinstance(message, str) and SEND_EVENT in message:
                lost.append(message)
            else:
                server.send(message)

        ws.on_message(to_server)
        server.on_message(ws.send)

    page.route_web_socket(re.compile("/_nicegui_ws/"), relay)
    app = app_server()
    page.goto(app.url)
    box = page.get_by_role("textbox", name="Message")
    send(page, "lost on the way")
    expect(box).to_have_value("")
    for _ in range(100):  # the relay sees the message a moment after the page sent it
        if lost:
            break
        page.wait_for_timeout(50)
    assert lost, "the send never left the page"
    page.reload()
    expect(box).to_have_value("lost on the way")
    assert not fake_upstream.requests

    box.press("Enter")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    expect(page.locator('[data-role="user"]')).to_have_text(["lost on the way"])
    page.reload()  # sent this time: nothing waits to be put back
    expect(page.locator('[data-role="user"]')).to_have_text(["lost on the way"])
    expect(box).to_have_value("")
    assert "Traceback" not in app.log_text()
