"""Editing a question in a real browser: a new branch from that point, the old one a click away, the
choice kept across a reload, and follow-ups prompted with exactly the branch on screen."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_chat import send
from tests.fake_upstream import FakeUpstream


def questions(page: Page):
    return page.locator('[data-role="user"]')


def turns(page: Page):
    """A question with its Edit button and version switcher."""
    return page.locator(".msg-user-turn")


def done(page: Page, n: int) -> None:
    expect(page.locator('[data-role="assistant"][data-status="done"]')).to_have_count(n)


def asked(fake: FakeUpstream, n: int) -> list[tuple[str, str]]:
    """What the model was sent in request n, without the system prompt."""
    return [(m["role"], m["content"]) for m in fake.wait_for_end(n).messages if m["role"] != "system"]


def test_edit_branches_the_thread_and_follow_ups_see_the_visible_branch(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    page.goto(app.url)
    for n, text in enumerate(["plan a trip", "to the sea", "in June"], start=1):
        send(page, text)
        done(page, n)
    turns(page).first.get_by_role("button", name="Edit").click()
    box = page.get_by_role("textbox", name="Edit message")
    expect(box).to_have_value("plan a trip")
    box.fill("plan a trip to the mountains")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "branch-edit-box.png")
    page.get_by_role("button", name="Save and send").click()

    expect(questions(page)).to_have_count(1)  # the later turns belong to the old branch
    expect(questions(page).first).to_contain_text("plan a trip to the mountains")
    done(page, 1)
    expect(turns(page).first.get_by_test_id("version")).to_have_text("2/2")
    assert asked(fake_upstream, 4) == [("user", "plan a trip to the mountains")]
    page.screenshot(path=ARTIFACTS / "branch-switcher.png")

    turns(page).first.get_by_role("button", name="Previous version").click()
    expect(questions(page)).to_have_count(3)
    expect(turns(page).first.get_by_test_id("version")).to_have_text("1/2")
    page.reload()  # the branch on screen is remembered
    expect(questions(page)).to_have_count(3)
    done(page, 3)
    send(page, "for two people")
    done(page, 4)
    sent = asked(fake_upstream, 5)
    assert [text for role, text in sent if role == "user"] == ["plan a trip", "to the sea", "in June", "for two people"]
    assert [role for role, _ in sent] == ["user", "assistant"] * 3 + ["user"]

    turns(page).first.get_by_role("button", name="Next version").click()
    expect(questions(page)).to_have_count(1)
    expect(questions(page).first).to_contain_text("plan a trip to the mountains")
    page.get_by_role("button", name="Dark mode").click()
    page.set_viewport_size({"width": 390, "height": 844})
    turns(page).first.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("textbox", name="Edit message")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "branch-edit-phone-dark.png")


def test_cancel_loses_nothing_and_arrow_up_edits_the_last_message(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server()
    page.goto(app.url)
    send(page, "first")
    done(page, 1)
    send(page, "second")
    done(page, 2)
    composer = page.get_by_role("textbox", name="Message")
    composer.focus()
    composer.press("ArrowUp")  # empty composer: edit the last message
    box = page.get_by_role("textbox", name="Edit message")
    expect(box).to_have_value("second")
    box.fill("something else entirely")
    page.get_by_role("button", name="Cancel").click()
    expect(box).to_have_count(0)
    expect(questions(page).last).to_have_text("second")
    assert len(fake_upstream.requests) == 2  # nothing was sent

    turns(page).first.get_by_role("button", name="Edit").click()
    page.get_by_role("textbox", name="Edit message").press("Escape")
    expect(page.get_by_role("textbox", name="Edit message")).to_have_count(0)
    expect(questions(page)).to_have_count(2)
