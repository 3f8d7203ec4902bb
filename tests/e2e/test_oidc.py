"""AUTH_MODE=oidc against a fake OpenID Connect provider on loopback (tests/fake_oidc.py).

The sign-in is the real flow: discovery, /authorize with state, nonce and PKCE, the code exchanged
at /token, the id_token verified against the provider's JWKS. Tokens with a wrong `aud` or `iss`,
an expired `exp` or another `nonce` are refused, and nobody is signed in by them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urljoin

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.fake_oidc import CLIENT_ID, FakeOidc
from tests.fake_upstream import FakeUpstream

SECRET = {"STORAGE_SECRET": "e2e-oidc-identity-secret-0123456789abc"}
ENTRA_USER = {"sub": "bob-pairwise-subject", "preferred_username": "bob@contoso.example", "name": "Bob Contoso",
              "oid": "00000000-0000-0000-0000-00000000b0b0", "tid": "tenant"}  # no `email`, as Entra ID may send


@pytest.fixture(scope="module")
def oidc_server() -> Iterator[FakeOidc]:
    provider = FakeOidc().start()
    yield provider
    provider.stop()


@pytest.fixture
def oidc(oidc_server: FakeOidc) -> FakeOidc:
    oidc_server.user = {"sub": "alice-subject", "email": "alice@example.com", "name": "Alice Doe"}
    oidc_server.tamper = {}
    return oidc_server


def sign_in(client: httpx.Client, provider: FakeOidc) -> httpx.Response:
    """Open the page, follow the app to the provider and back; returns the callback's answer."""
    start = client.get("/", headers={"Accept": "text/html"})
    assert start.status_code == 303 and start.headers["location"].startswith("/auth/login")
    to_provider = client.get(start.headers["location"])
    assert to_provider.headers["location"].startswith(f"{provider.issuer}/authorize?")
    back = client.get(to_provider.headers["location"])
    assert back.status_code == 302
    return client.get(back.headers["location"])


def test_tokens_with_a_wrong_audience_issuer_expiry_or_nonce_are_refused(
    app_server, fake_upstream: FakeUpstream, oidc: FakeOidc
) -> None:
    app = app_server({**oidc.env(), **SECRET}, ready_path="/healthz")
    hour_ago = int(time.time()) - 3600
    # (azp names us, so it is `aud` itself that must be checked)
    for tamper in ({"aud": "someone-else", "azp": CLIENT_ID}, {"iss": "http://127.0.0.1:9/evil"}, {"exp": hour_ago},
                   {"nonce": "replayed-nonce"}):
        oidc.tamper = tamper
        with httpx.Client(base_url=app.url, trust_env=False) as browser:
            refused = sign_in(browser, oidc)
            assert refused.status_code == 401, tamper
            assert "Sign-in failed" in refused.text
            after = browser.get("/", headers={"Accept": "text/html"})
            assert after.status_code == 303, f"{tamper} signed someone in"
    assert oidc.tokens_issued == 4  # each was refused after the exchange, on its claims

    oidc.tamper = {}  # the same flow with a good token signs in
    with httpx.Client(base_url=app.url, trust_env=False) as browser:
        accepted = sign_in(browser, oidc)
        assert accepted.status_code == 303 and accepted.headers["location"] == "/"
        page = browser.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "Alice Doe" in page.text
        forged_state = browser.get("/auth/callback", params={"code": "x", "state": "not-ours"})
        assert forged_state.status_code == 401


def test_sign_in_with_entra_style_claims_chat_and_sign_out(
    app_server, fake_upstream: FakeUpstream, oidc: FakeOidc, page: Page
) -> None:
    oidc.user = ENTRA_USER
    app = app_server({**oidc.env(), **SECRET}, ready_path="/healthz")
    page.goto(urljoin(app.url, "/?from=bookmark"))  # → provider → back, signed in, where it started
    expect(page.get_by_test_id("signed-in")).to_have_accessible_name("Bob Contoso")
    assert page.url.endswith("/?from=bookmark")
    box = page.get_by_role("textbox", name="Message")
    box.fill("hello from bob")
    box.press("Enter")
    expect(page.locator('[data-role="assistant"][data-status="done"]')).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "oidc-signed-in.png")

    page.get_by_test_id("signed-in").click()
    expect(page.get_by_label("Signed in as")).to_have_text("bob@contoso.example")  # preferred_username
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()

    oidc.user = {**ENTRA_USER, "preferred_username": "robert@contoso.example"}  # renamed; same subject
    page.goto(app.url)
    expect(page.get_by_test_id("signed-in")).to_have_accessible_name("Bob Contoso")
    expect(page.get_by_role("navigation", name="Conversations").get_by_role("link", name="hello from bob")
           ).to_be_visible()
