"""Issue #10 "Search": a word only inside an old answer is found while typing, shown highlighted, and
opening the result scrolls the thread to that answer and marks it, also after a reload.

The real app and Chromium; the long thread is seeded into the app's real SQLite file with the app's own
Store, into a conversation this browser started by a real send (so it has the browser's owner).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import serious_violations
from tests.e2e.test_chat import chat_url, last_answer, send
from tests.fake_upstream import FakeUpstream
from tests.seed import owner_of, seed_turns

TURNS = 40  # more than the newest page, so the old answer is not loaded when the thread opens
OLD = 2


def answer(i: int) -> list[str]:
    body = f"Answer {i}: " + "some ordinary words about other things. " * 20
    if i == OLD:  # markup in the text must reach the page as text
        return [body + "The <b>quokka</b> smiles at <img src=x onerror=alert(1)> visitors."]
    return [body]


def ask(page: Page, text: str) -> str:
    """Send `text`, wait for the answer; the conversation's id."""
    send(page, text)
    expect(last_answer(page)).to_have_attribute("data-status", "done")
    return chat_url(page).rsplit("/", 1)[1]


def test_a_word_in_an_old_answer_is_found_highlighted_and_opened_in_place(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    page.goto(app.url)
    conversation_id = ask(page, "start")
    db_url = f"sqlite:///{app.data_dir / 'streamchat.db'}"
    seed_turns(db_url, owner_of(db_url, conversation_id), conversation_id, TURNS, answer)
    page.reload()
    expect(page.get_by_text("question 039", exact=True)).to_be_visible()
    expect(page.get_by_text("question 002", exact=True)).to_have_count(0)  # beyond the loaded window

    page.get_by_role("textbox", name="Search conversations").fill("quok")  # still typing the word
    result = page.get_by_test_id("search-result")
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text("quokka")
    expect(result).to_contain_text("The <b>quokka</b> smiles at <img src=x")  # shown as text, not markup
    expect(result.locator("b, img")).to_have_count(0)
    href = result.get_attribute("href") or ""
    match = re.search(rf"/c/{conversation_id}\?m=(\d+)$", href)
    assert match, href
    message = page.locator(f'[data-message-id="{match.group(1)}"]')

    result.click()
    expect(page).to_have_url(re.compile(rf"\?m={match.group(1)}$"))
    expect(message).to_contain_text("The quokka smiles")  # (the answer is markdown: the tag is dropped)
    expect(message).to_be_in_viewport()
    expect(message).to_have_class(re.compile(r"\bsearch-target\b"))
    expect(page.get_by_text("question 039", exact=True)).to_have_count(1)  # the turns after it are there too

    page.reload()
    expect(message).to_be_in_viewport()
    expect(message).to_have_class(re.compile(r"\bsearch-target\b"))


@pytest.mark.postgres_too
def test_search_by_keyboard_and_an_empty_result_says_so(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    app = app_server()
    page.goto(app.url)
    ask(page, "Tell me about axolotls")
    page.get_by_role("button", name="New chat").click()
    expect(page).to_have_url(f"{app.url}/")
    # The new, empty page is shown (not the old one going away): its shortcut listener is there.
    expect(page.get_by_text("What can I help with?")).to_be_visible()
    search = page.get_by_role("textbox", name="Search conversations")
    page.keyboard.press("Control+k")
    expect(search).to_be_focused()
    page.keyboard.type("zzzz-nothing")
    expect(page.get_by_role("status").filter(has_text="Nothing matches")).to_be_visible()
    search.fill("axolotl")
    results = page.get_by_test_id("search-result")
    expect(results.first).to_be_visible()
    assert serious_violations(page) == []  # marks, snippets and the count read well (contrast, names)
    search.press("ArrowDown")
    expect(results.first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/c/\w+"))
    expect(page.locator('[data-role="user"]')).to_have_text("Tell me about axolotls")
