"""Share links in a real browser: alice shares a conversation, bob (another signed-in user of the same
deployment) reads it and cannot change it, alice revokes it and bob's reload says it is gone. In
browser mode sharing is exporting."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.api.conftest import create_key
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_header_identity import ALICE, BOB, HEADER_MODE
from tests.e2e.test_identity import chat_once
from tests.e2e.test_workspace import choose, download
from tests.fake_upstream import FakeUpstream, Reply

HOSTILE = 'Plan: **go north**. <script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2">'


def test_a_shared_conversation_is_read_only_for_the_team_until_revoked(
    app_server, fake_upstream: FakeUpstream, page: Page, browser: Browser
) -> None:
    app = app_server(HEADER_MODE, ready_path="/healthz")
    fake_upstream.enqueue(Reply(text=HOSTILE))
    page.context.set_extra_http_headers(ALICE)
    chat_once(page, app.url, "alice's trip plan")
    choose(page, "alice's trip plan", "Share")
    dialog = page.get_by_role("dialog", name="Share conversation")
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.get_by_role("textbox", name="Link")
    expect(link).to_be_visible()
    url = link.input_value()
    assert url.startswith(f"{app.url}/share/") and len(url.rsplit("/", 1)[1]) >= 32
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "share-dialog.png")

    bob = browser.new_context(extra_http_headers=BOB)
    try:
        reader = bob.new_page()
        reader.goto(url)
        expect(reader.get_by_role("heading", name="alice's trip plan")).to_be_visible()
        expect(reader.get_by_test_id("share-by")).to_have_text("Shared by alice@example.com · read-only")
        answer = reader.locator('[data-role="assistant"][data-status="done"]')
        expect(answer.locator("strong")).to_have_text("go north")
        assert reader.evaluate("window.pwned") is None  # the model's markup was sanitized on the server
        assert answer.locator("script, [onerror]").count() == 0
        for writing in ("Message", "Edit message"):
            expect(reader.get_by_role("textbox", name=writing)).to_have_count(0)
        for action in ("Regenerate", "Retry", "Conversation actions", "Send"):
            expect(reader.get_by_role("button", name=action)).to_have_count(0)
        reader.screenshot(path=ARTIFACTS / "share-reader.png")
        assert serious_violations(reader) == []
        reader.goto(app.url)  # bob's own chats do not list it
        expect(reader.get_by_text("No conversations yet.")).to_be_visible()
        reader.get_by_role("button", name="Dark mode").click()  # bob's preference, also on the shared page
        reader.set_viewport_size({"width": 390, "height": 844})
        reader.goto(url)
        expect(reader.locator("body.body--dark")).to_have_count(1)
        reader.screenshot(path=ARTIFACTS / "share-reader-phone.png")

        dialog.get_by_role("button", name="Revoke link").click()
        expect(dialog.get_by_role("button", name="Create link")).to_be_visible()
        reader.goto(url)
        expect(reader.get_by_test_id("share-gone")).to_have_text("This link was revoked or never existed.")
        expect(reader.get_by_text("go north")).to_have_count(0)
    finally:
        bob.close()
    assert url.rsplit("/", 1)[1] not in app.log_text()  # the token is a secret: never logged


def test_share_links_over_the_api_are_owner_made_and_team_read(app_server, fake_upstream: FakeUpstream) -> None:
    app = app_server(HEADER_MODE, ready_path="/healthz")
    alice, bob = create_key(app, "alice@example.com"), create_key(app, "bob@example.com")
    with httpx.Client(base_url=app.url, headers={"Authorization": f"Bearer {alice}"}, trust_env=False) as a, \
            httpx.Client(base_url=app.url, headers={"Authorization": f"Bearer {bob}"}, trust_env=False) as b:
        cid = a.post("/api/v1/conversations").json()["id"]
        a.post(f"/api/v1/conversations/{cid}/messages", json={"content": "for the team", "stream": False})
        made = a.post(f"/api/v1/conversations/{cid}/share")
        assert made.status_code == 201 and made.json()["url"] == f"{app.url}/share/{made.json()['token']}"
        assert a.post(f"/api/v1/conversations/{cid}/share").json() == made.json()  # the same link until revoked
        token = made.json()["token"]
        read = b.get(f"/api/v1/shared/{token}")
        assert read.status_code == 200 and read.json()["shared_by"] == "alice@example.com"
        assert [m["role"] for m in read.json()["messages"]] == ["user", "assistant"]
        assert b.post(f"/api/v1/conversations/{cid}/share").status_code == 404  # not bob's to share
        assert b.delete(f"/api/v1/conversations/{cid}/share").status_code == 404
        assert b.get(f"/api/v1/conversations/{cid}").status_code == 404  # the link is not access by id
        assert a.delete(f"/api/v1/conversations/{cid}/share").status_code == 204
        assert b.get(f"/api/v1/shared/{token}").status_code == 404
        a.post(f"/api/v1/conversations/{cid}/share")
        again = a.post(f"/api/v1/conversations/{cid}/share").json()["token"]
        assert again != token and a.delete(f"/api/v1/conversations/{cid}").status_code == 200
        assert b.get(f"/api/v1/shared/{again}").status_code == 404  # deleting the conversation kills its link


def test_in_browser_mode_share_offers_export(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    app = app_server()
    chat_once(page, app.url, "my notes")
    choose(page, "my notes", "Share")
    dialog = page.get_by_role("dialog", name="Share conversation")
    expect(dialog).to_contain_text("Links need team sign-in (AUTH_MODE header or oidc)")
    d, text = download(page, lambda: dialog.get_by_role("button", name="Markdown").click())
    assert d.suggested_filename.endswith(".md") and "my notes" in text
    page.screenshot(path=ARTIFACTS / "share-browser-mode.png")
    page.goto(f"{app.url}/share/anything")  # no links exist in browser mode
    expect(page.get_by_test_id("share-gone")).to_be_visible()
