"""AUTH_MODE=header: the sign-in proxy's header names the user, believed only from TRUSTED_PROXIES peers.

The test plays the proxy: it connects from 127.0.0.1 (the trusted peer) and sets the headers a proxy
such as oauth2-proxy would. An untrusted peer is a real one too: the same loopback, from 127.0.0.2.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_chat import chat_url
from tests.e2e.test_identity import chat_once, conversation_link
from tests.fake_upstream import FakeUpstream

HEADER_MODE = {"AUTH_MODE": "header", "TRUSTED_PROXIES": "127.0.0.1/32", "AUTH_NAME_HEADER": "X-Forwarded-User",
               "STORAGE_SECRET": "e2e-header-identity-secret-0123456789"}
ALICE = {"X-Forwarded-Email": "alice@example.com", "X-Forwarded-User": "Alice Doe"}
BOB = {"X-Forwarded-Email": "bob@example.com"}


def signed_in(page: Page):
    return page.get_by_test_id("signed-in")


def test_the_header_is_believed_only_from_a_trusted_socket_peer(app_server, fake_upstream: FakeUpstream) -> None:
    app = app_server(HEADER_MODE, ready_path="/healthz")
    html = {"Accept": "text/html"}
    with httpx.Client(base_url=app.url, trust_env=False) as proxy:
        missing = proxy.get("/", headers=html)
        assert missing.status_code == 401 and "Sign-in required" in missing.text
        assert "X-Forwarded-Email" in missing.text  # says what was missing
        # Behind the proxy, uvicorn rewrites the client address to X-Forwarded-For's: still believed,
        # because the check is on the socket peer (the proxy), not on the forwarded address.
        ok = proxy.get("/", headers={**html, **ALICE, "X-Forwarded-For": "203.0.113.9"})
        assert ok.status_code == 200 and "Alice Doe" in ok.text
    outsider = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=app.url, transport=outsider, trust_env=False) as direct:
        forged = direct.get("/", headers={**html, **ALICE, "X-Forwarded-For": "127.0.0.1"})
        assert forged.status_code == 403 and "trusted sign-in proxy" in forged.text
        assert "Alice" not in forged.text
    assert "ignored X-Forwarded-Email from 127.0.0.2" in app.log_text()


def test_another_user_in_the_same_browser_sees_nothing_of_the_first(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    app = app_server(HEADER_MODE, ready_path="/healthz")
    page.context.set_extra_http_headers(ALICE)
    chat_once(page, app.url, "alice's secret plan")
    expect(signed_in(page)).to_have_accessible_name("Alice Doe")
    page.get_by_role("button", name="Dark mode").click()  # a per-user preference (NiceGUI user storage)
    expect(page.locator("body.body--dark")).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "header-signed-in.png")
    alice_url = chat_url(page)

    page.context.set_extra_http_headers(BOB)  # same browser context, same cookies: the proxy now says bob
    page.goto(app.url)
    expect(signed_in(page)).to_have_accessible_name("bob@example.com")
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    expect(conversation_link(page, "alice's secret plan")).to_have_count(0)
    expect(page.locator("body.body--dark")).to_have_count(0)
    page.goto(alice_url)  # alice's conversation by its address
    expect(page.get_by_text("This conversation does not exist, or it is not yours.")).to_be_visible()
    expect(page.get_by_text("alice's secret plan")).to_have_count(0)

    page.context.set_extra_http_headers(ALICE)  # and back: alice's things are where she left them
    page.goto(app.url)
    expect(conversation_link(page, "alice's secret plan")).to_be_visible()
    expect(page.locator("body.body--dark")).to_have_count(1)


def test_a_page_built_for_one_user_does_not_reconnect_as_another(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    """Alice's open tab loses its socket after the sign-in changed to bob: it must not go on as
    alice's page on bob's connection; it reloads and becomes bob's page."""
    app = app_server(HEADER_MODE, ready_path="/healthz")
    page.context.set_extra_http_headers(ALICE)
    chat_once(page, app.url, "alice only")
    expect(conversation_link(page, "alice only")).to_be_visible()

    page.context.set_extra_http_headers(BOB)
    page.evaluate("window.socket.io.engine.close()")  # the connection drops; socket.io reconnects by itself
    expect(signed_in(page)).to_have_accessible_name("bob@example.com")
    expect(conversation_link(page, "alice only")).to_have_count(0)
    expect(page.get_by_text("alice only")).to_have_count(0)
    assert "reconnected after a change of sign-in" in app.log_text()
