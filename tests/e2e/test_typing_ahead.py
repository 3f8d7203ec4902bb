"""Text typed while a send is still being handled is the user's next words: the send must not wipe it."""

from __future__ import annotations

import sqlite3

from playwright.sync_api import Page, expect

from tests.e2e.test_chat import last_answer, send
from tests.fake_upstream import FakeUpstream


def test_text_typed_while_a_send_is_handled_stays_in_the_box(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    page.goto(app.url)
    send(page, "warm up")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    lock = sqlite3.connect(app.data_dir / "streamchat.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")  # another process holds the database: the send waits for it
    try:
        send(page, "first question")
        expect(page.get_by_role("button", name="Stop")).to_be_visible()  # the server is handling the send
        box = page.get_by_role("textbox", name="Message")
        box.fill("and my next one")  # the box sends its value over the same socket, after the Enter
    finally:
        lock.rollback()  # the send's rows go in; SQLite's busy handler was sleeping long before this
        lock.close()
    expect(page.locator('[data-role="user"]').last).to_have_text("first question")
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    expect(box).to_have_value("and my next one")
    page.reload()  # and they are this chat's draft, as if typed after the send
    expect(page.locator('[data-role="user"]').last).to_have_text("first question")
    expect(page.get_by_role("textbox", name="Message")).to_have_value("and my next one")
    assert "Traceback" not in app.log_text()
