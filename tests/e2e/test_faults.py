"""Issue #7 (findings 5, 6, 8) end to end: what the model said shown honestly, and storage faults said."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_chat import last_answer, send
from tests.fake_upstream import FakeUpstream, Reply

REFUSAL = "I'm sorry, but I can't help with that request."
ANSWER = "Here is the whole answer, saved or not: " + " ".join(f"part{i}" for i in range(30))


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / name, full_page=True)


def test_refusal_tool_call_late_filter_and_odd_chunks_are_shown_for_what_they_are(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    fake_upstream.enqueue(
        Reply(refusal=REFUSAL, interval=0.02),
        Reply.calls_tool("get_weather"),
        Reply(text="Borderline words.", late_filter=("violence",)),
        Reply(contents=["Total: ", 123, " items \ud800 listed."]),
    )
    app = app_server()
    page.goto(app.url)
    send(page, "Help me with something bad")
    refusal = page.locator('[data-role="assistant"]').nth(0)
    expect(refusal).to_have_attribute("data-status", "done")
    expect(refusal).to_contain_text(REFUSAL)  # the model's own words, not an empty answer
    expect(refusal.get_by_text("Declined", exact=True)).to_be_visible()
    screenshot(page, "refusal.png")

    send(page, "What's the weather in Paris?")
    tool = page.locator('[data-role="assistant"]').nth(1)
    expect(tool).to_have_attribute("data-status", "error")
    expect(tool).to_contain_text("asked to use a tool this app does not offer (get_weather)")

    send(page, "Say something borderline")
    flagged = page.locator('[data-role="assistant"]').nth(2)
    expect(flagged).to_have_attribute("data-status", "filtered")
    expect(flagged).to_contain_text("content filter flagged this answer (violence)")
    expect(flagged).to_contain_text("Borderline words.")

    send(page, "Send odd chunks")  # a number and a lone surrogate once broke the sanitizer and SQLite
    odd = page.locator('[data-role="assistant"]').nth(3)
    expect(odd).to_have_attribute("data-status", "done")
    expect(odd).to_contain_text("Total: 123 items \ufffd listed.")

    page.reload()  # what was said is kept, marks included
    expect(page.locator('[data-role="assistant"]').nth(0).get_by_text("Declined", exact=True)).to_be_visible()
    expect(page.locator('[data-role="assistant"]').nth(2)).to_have_attribute("data-status", "filtered")
    expect(page.locator('[data-role="assistant"]').nth(3)).to_contain_text("Total: 123 items \ufffd listed.")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    assert "Traceback" not in app.log_text()


def row_of(db: Path, message_id: str) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT status, content FROM message WHERE id = ?", (int(message_id),)).fetchone()


def test_a_locked_database_is_said_and_the_answer_survives_until_saved(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    release = threading.Event()
    fake_upstream.enqueue(Reply(text=ANSWER, interval=0.01, hold=release))
    app = app_server()
    db = app.data_dir / "streamchat.db"
    page.goto(app.url)
    send(page, "Answer while the disk is locked")
    fake_upstream.wait_for_request(1)  # both rows exist; now another process locks the database
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        release.set()
        answer = last_answer(page)
        expect(answer).to_have_attribute("data-status", "done")
        expect(page.get_by_role("button", name="Send")).to_be_visible()  # the composer is usable at once
        send(page, "A follow-up while locked")
        box = page.get_by_role("textbox", name="Message")
        expect(box).to_have_value("")
        box.press_sequentially("and more")  # typed on while the send waits for the database
        # the final save waits out SQLite's 10 s busy timeout before it is known to have failed
        expect(answer.get_by_role("alert")).to_contain_text("could not be saved", timeout=25_000)
        expect(page.get_by_text("Your message could not be saved: the database is busy")).to_be_visible(timeout=25_000)
        expect(box).to_have_value("A follow-up while locked\nand more")  # given back, in front
        expect(page.get_by_role("button", name="Send")).to_be_visible()
        screenshot(page, "not-saved.png")
        message_id = answer.get_attribute("data-message-id") or ""
        assert row_of(db, message_id)[0] == "streaming"  # the database really does not have it yet

        page.reload()  # the answer comes from memory: whole text, final status, and the note
        answer = last_answer(page)
        expect(answer).to_have_attribute("data-status", "done")
        expect(answer).to_contain_text("part29")
        expect(answer.get_by_role("alert")).to_contain_text("could not be saved")
    finally:
        lock.rollback()
        lock.close()
    deadline = time.monotonic() + 60  # the save is retried with backoff (10 s busy timeout per try)
    while row_of(db, message_id)[0] == "streaming" and time.monotonic() < deadline:
        time.sleep(0.2)  # polling a condition with a deadline
    assert row_of(db, message_id) == ("done", ANSWER)
    page.reload()
    answer = last_answer(page)
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer).to_contain_text("part29")
    expect(answer.get_by_role("alert")).to_have_count(0)
    log = app.log_text()
    assert "database is locked" in log and "Traceback" not in log
    assert "part29" not in log and "A follow-up while locked" not in log  # failures logged without the text
