"""A browser-mode user keeps their conversations when the deployment switches to team sign-in.

The documented path: the user reads their browser id in the Account dialog, the operator runs
`app.py claim --from-browser-id ID --to EMAIL`, and after the switch the signed-in user sees them;
an API key made with `api-key create --user EMAIL` sees them too.
"""

from __future__ import annotations

import subprocess
import sys

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import REPO_ROOT, AppServer
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_identity import chat_once, conversation_link
from tests.fake_upstream import FakeUpstream

SECRET = {"STORAGE_SECRET": "e2e-claim-identity-secret-0123456789abc"}
HEADER_MODE = {**SECRET, "AUTH_MODE": "header", "TRUSTED_PROXIES": "127.0.0.1/32"}


def cli(server: AppServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "app.py", *args], cwd=REPO_ROOT, env=server.env, capture_output=True,
                          text=True, timeout=60)


def test_claim_gives_a_browsers_conversations_to_the_signed_in_user(
    app_server, fake_upstream: FakeUpstream, page: Page
) -> None:
    browser_mode = app_server(SECRET)
    chat_once(page, browser_mode.url, "from my browser days")
    page.get_by_role("button", name="Account").click()
    browser_id = page.get_by_label("Browser id").inner_text().strip()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "account-browser-id.png")
    browser_mode.stop()

    header_mode = app_server(HEADER_MODE, data_dir=browser_mode.data_dir, ready_path="/healthz")
    page.context.set_extra_http_headers({"X-Forwarded-Email": "alice@example.com"})
    page.goto(header_mode.url)
    expect(page.get_by_test_id("signed-in")).to_have_accessible_name("alice@example.com")
    expect(conversation_link(page, "from my browser days")).to_have_count(0)  # not yet hers

    page.get_by_test_id("signed-in").click()  # the old browser cookie is still there: its id is shown
    expect(page.get_by_label("Browser id")).to_have_text(browser_id)
    page.screenshot(path=ARTIFACTS / "account-earlier-browser-id.png")

    unknown = cli(header_mode, "claim", "--from-browser-id", "no-such-browser", "--to", "alice@example.com")
    assert unknown.returncode == 1 and "0 conversation" in unknown.stdout
    claimed = cli(header_mode, "claim", "--from-browser-id", browser_id, "--to", "alice@example.com")
    assert claimed.returncode == 0, claimed.stderr
    assert "1 conversation" in claimed.stdout and "2 message" in claimed.stdout
    page.reload()
    expect(conversation_link(page, "from my browser days")).to_be_visible()

    made = cli(header_mode, "api-key", "create", "--user", "alice@example.com")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    listed = httpx.get(f"{header_mode.url}/api/v1/conversations", headers={"Authorization": f"Bearer {key}"},
                       trust_env=False)
    assert [c["title"] for c in listed.json()["conversations"]] == ["from my browser days"]
