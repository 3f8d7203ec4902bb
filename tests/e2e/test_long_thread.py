"""Issue #7 finding 3: a long conversation opens at its newest turn and loads older ones on demand.

The real app and Chromium; the long thread is seeded into the app's real SQLite file with the app's
own Store, into a conversation this browser started by a real send (so it has the browser's owner).
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.test_chat import chat_url, send
from tests.fake_upstream import FakeUpstream
from tests.seed import owner_of, seed_turns

TURNS = 40  # a few pages of ~0.8 KB answers
VERSIONED = 3  # this old turn was regenerated once


def answer(i: int) -> list[str]:
    body = f"## Answer {i}\n\n" + "Some **markdown** with `code` and a list:\n\n- one\n- two\n\n" * 12
    if i == VERSIONED:
        return [body.replace(f"Answer {i}", f"Answer {i} first try"), body]
    return [body]


def questions(page: Page) -> list[str]:
    return page.locator('[data-role="user"]').all_inner_texts()


def test_long_thread_opens_at_the_newest_turn_and_loads_older_ones(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    page.goto(app.url)
    send(page, "start")
    expect(page.locator('[data-role="assistant"]')).to_have_attribute("data-status", "done")
    conversation_id = chat_url(page).rsplit("/", 1)[1]
    db_url = f"sqlite:///{app.data_dir / 'streamchat.db'}"
    seed_turns(db_url, owner_of(db_url, conversation_id), conversation_id, TURNS, answer)
    expected = ["start"] + [f"question {i:03d}" for i in range(TURNS)]

    page.reload()
    newest = page.locator('[data-role="assistant"]').last
    expect(newest.locator("h2")).to_have_text(f"Answer {TURNS - 1}")
    expect(newest).to_be_in_viewport()
    shown = questions(page)
    assert 1 <= len(shown) < len(expected) and shown == expected[-len(shown) :]  # only the newest page
    load_button = page.get_by_role("button", name="Load earlier messages")

    # Scrolling to the top loads the previous page above, and what was read stays in view.
    reading = page.get_by_text(shown[0], exact=True)
    page.mouse.move(640, 400)
    page.mouse.wheel(0, -1_000_000)
    expect(page.locator('[data-role="user"]')).not_to_have_count(len(shown))
    expect(reading).to_be_in_viewport()
    more = questions(page)
    assert len(more) > len(shown) and more == expected[-len(more) :]
    expect(page.get_by_text(more[0], exact=True)).not_to_be_in_viewport()

    # The button does the same; once everything is shown it goes away.
    for _ in range(len(expected)):
        if not load_button.is_visible():
            break
        count = len(questions(page))
        load_button.click()
        expect(page.locator('[data-role="user"]')).not_to_have_count(count)
    assert questions(page) == expected
    expect(load_button).to_be_hidden()

    # Versions of an old turn still switch, and switching keeps every loaded turn.
    versioned = page.locator('[data-role="assistant"]').nth(VERSIONED + 1)  # after the answer to "start"
    expect(versioned.get_by_test_id("version")).to_have_text("2/2")
    versioned.get_by_role("button", name="Previous version").click()
    versioned = page.locator('[data-role="assistant"]').nth(VERSIONED + 1)  # after the answer to "start"
    expect(versioned.get_by_test_id("version")).to_have_text("1/2")
    expect(versioned.locator("h2")).to_have_text(f"Answer {VERSIONED} first try")
    assert questions(page) == expected

    # A follow-up is answered with the history before it, not just the turns on screen.
    send(page, "and now?")
    sent = [m["content"] for m in fake_upstream.wait_for_request(2).messages]
    assert sent[-1] == "and now?" and sent[-3] == f"question {TURNS - 1:03d}"
    expect(page.locator('[data-role="assistant"]').last).to_have_attribute("data-status", "done")
    expect(page.locator('[data-role="user"]')).to_have_count(len(expected) + 1)
