"""A browser keeps its conversations for as long as it keeps coming back, and is told when it can't.

The identity lives in our own signed `streamchat_id` cookie (400 days, re-issued on each page load);
NiceGUI's `session` cookie, which used to carry it, expires after 14 days.
"""

from __future__ import annotations

import time

from playwright.sync_api import BrowserContext, Page, expect

from services.identity import COOKIE_NAME, IdentityCodec
from tests.fake_upstream import FakeUpstream

SECRET = "e2e-identity-secret-0123456789abcdef"
DAY_S = 24 * 3600
BANNER_TEXT = "saved identity could not be verified"


def chat_once(page: Page, url: str, text: str) -> None:
    page.goto(url)
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")
    expect(page.locator('[data-role="assistant"][data-status="done"]')).to_have_count(1)


def cookie(context: BrowserContext, name: str) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == name), None)


def conversation_link(page: Page, title: str):
    return page.get_by_role("navigation", name="Conversations").get_by_role("link", name=title)


def test_identity_and_preferences_survive_an_expired_session_and_an_old_cookie(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server({"STORAGE_SECRET": SECRET})
    chat_once(page, app.url, "remember me")
    page.get_by_role("button", name="Dark mode").click()  # a per-user preference, kept on the server
    expect(page.locator("body.body--dark")).to_have_count(1)
    issued = cookie(page.context, COOKIE_NAME)
    assert issued is not None and issued["httpOnly"] and issued["sameSite"] == "Lax"
    assert issued["expires"] > time.time() + 399 * DAY_S
    owner = IdentityCodec(SECRET).read(issued["value"])
    assert owner is not None

    # Two years on: the browser dropped the 14-day session cookie; ours was issued at the last visit.
    page.context.clear_cookies()
    old = IdentityCodec(SECRET).issue(owner, now=time.time() - 2 * 365 * DAY_S)
    page.context.add_cookies([{"name": COOKIE_NAME, "value": old, "url": app.url, "httpOnly": True}])
    page.goto(app.url)
    expect(conversation_link(page, "remember me")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("body.body--dark")).to_have_count(1)  # preferences follow the identity
    renewed = cookie(page.context, COOKIE_NAME)
    assert renewed is not None and renewed["value"] != old  # re-issued on the visit, same owner
    assert IdentityCodec(SECRET).read(renewed["value"]) == owner
    assert renewed["expires"] > time.time() + 399 * DAY_S


def test_existing_session_id_is_adopted(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    """A browser from before this cookie existed has only NiceGUI's session: its conversations stay."""
    app = app_server({"STORAGE_SECRET": SECRET})
    chat_once(page, app.url, "from before the upgrade")
    page.context.clear_cookies(name=COOKIE_NAME)
    assert cookie(page.context, "session") is not None
    page.goto(app.url)
    expect(conversation_link(page, "from before the upgrade")).to_be_visible()
    assert cookie(page.context, COOKIE_NAME) is not None


def test_unreadable_identity_is_announced_not_silently_replaced(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    """The secret changed (both cookies fail their signature): the page says why the history is gone."""
    first = app_server({"STORAGE_SECRET": SECRET})
    chat_once(page, first.url, "signed with the old secret")
    first.stop()
    second = app_server({"STORAGE_SECRET": "another-secret-0123456789abcdefghij"}, data_dir=first.data_dir)
    page.goto(second.url)
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text(BANNER_TEXT)
    expect(conversation_link(page, "signed with the old secret")).to_have_count(0)
    assert "failed its signature check" in second.log_text()

    page.goto(second.url)  # the browser now holds a readable identity: no banner any more
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def test_tampered_identity_cookie_shows_the_banner(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    app = app_server({"STORAGE_SECRET": SECRET})
    page.goto(app.url)
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    page.context.clear_cookies()
    forged = IdentityCodec("guessed-secret-0123456789abcdefghijkl").issue("someone-else")
    page.context.add_cookies([{"name": COOKIE_NAME, "value": forged, "url": app.url}])
    page.goto(app.url)
    expect(page.get_by_role("alert")).to_contain_text(BANNER_TEXT)
