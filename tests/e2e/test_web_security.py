"""Web security of the real app: CSP that the page lives with, Host allowlist, Secure cookies, stats access."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.fake_upstream import FakeUpstream, Reply

ANSWER = "# Title\n\nSome **bold** text.\n\n```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage]:
    """Status and headers of a GET straight to the app (no proxy), with headers a browser would not send."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers={"Accept": "text/html", **(headers or {})})
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def websocket_upgrade(port: int, host: str) -> tuple[int, http.client.HTTPMessage]:
    """Status and headers of the page socket's handshake, offering compression as Chromium does."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(
        "GET",
        "/_nicegui_ws/socket.io/?EIO=4&transport=websocket",
        headers={
            "Host": host,
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
        },
    )
    response = conn.getresponse()
    conn.close()
    return response.status, response.headers


def test_page_works_under_the_csp_without_violations(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    fake_upstream.enqueue(Reply(text=ANSWER, interval=0.002), Reply(text="Second."))
    app = app_server()
    problems: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" or "Content Security Policy" in msg.text:
            problems.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda err: problems.append(str(err)))
    response = page.goto(app.url)
    assert response is not None
    policy = response.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "frame-src 'none'",
    ):
        assert directive in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"

    box = page.get_by_role("textbox", name="Message")
    box.fill("Show me markdown")
    box.press("Enter")  # streaming markdown view, drafts script (run_javascript), sidebar refresh
    answer = page.locator('[data-role="assistant"][data-status="done"]')
    expect(answer).to_have_count(1)
    expect(answer.locator("table")).to_have_count(1)
    page.get_by_role("button", name="Dark mode").click()
    expect(page.locator("body.body--dark")).to_have_count(1)
    page.reload()  # a reload re-joins the conversation: preloaded components, restored draft
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    box.fill("again")
    box.press("Enter")
    expect(page.locator('[data-role="assistant"][data-status="done"]')).to_have_count(2)
    assert problems == []
    injected = page.evaluate("""() => new Promise((resolve) => {
        const s = document.createElement('script'); s.textContent = 'window.injected = 1';
        document.addEventListener('securitypolicyviolation', () => resolve('blocked'), {once: true});
        document.body.append(s);
        setTimeout(() => resolve(window.injected ? 'ran' : 'blocked'), 1000);
    })""")
    assert injected == "blocked"  # an inline script that is not part of the page does not run


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted-proxy", "untrusted-proxy"])
def test_hosts_proxies_cookies_and_stats(app_server, fake_upstream: FakeUpstream, trusted: bool) -> None:
    app = app_server(
        {
            "ALLOWED_HOSTS": "chat.example.test",
            "STATS_TOKEN": "stats-token-for-tests",
            "TRUSTED_PROXIES": "127.0.0.1" if trusted else "10.9.9.9",
        }
    )
    assert get(app.url + "/", {"Host": "attacker.example"})[0] == 400  # DNS rebinding
    assert get(app.url + "/", {"Host": f"attacker.example:{app.port}"})[0] == 400
    assert get(app.url + "/", {"Host": f"localhost:{app.port}"})[0] == 200
    assert get(app.url + "/", {"Host": "chat.example.test"})[0] == 200  # ALLOWED_HOSTS
    assert websocket_upgrade(app.port, "attacker.example")[0] != 101
    assert websocket_upgrade(app.port, f"127.0.0.1:{app.port}")[0] == 101

    status, headers = get(app.url + "/", {"X-Forwarded-Proto": "https"})
    cookies = headers.get_all("set-cookie") or []
    assert status == 200 and {c.split("=")[0] for c in cookies} == {"streamchat_id", "session"}
    assert all(("secure" in c.lower()) is trusted for c in cookies)  # https only as a trusted proxy says
    assert all("secure" not in c.lower() for c in get(app.url + "/")[1].get_all("set-cookie") or [])

    assert get(app.url + "/api/stats")[0] == 200  # loopback
    from_outside = {"X-Forwarded-For": "203.0.113.9"}  # a remote client behind the (trusted?) proxy
    assert get(app.url + "/api/stats", from_outside)[0] == (403 if trusted else 200)
    wrong = {**from_outside, "Authorization": "Bearer nope"}
    assert get(app.url + "/api/stats", wrong)[0] == (403 if trusted else 200)
    right = {**from_outside, "Authorization": "Bearer stats-token-for-tests"}
    assert get(app.url + "/api/stats", right)[0] == 200


def test_the_page_socket_declines_compression(app_server) -> None:
    """Each streamed patch is one small socket message; deflating each took 30–40 µs of the server's
    CPU (~8 % of a page's cost per token at 30 tokens/s, bench/LOAD.md session 11), and the browser
    inflated each one again."""
    app = app_server()
    status, headers = websocket_upgrade(app.port, f"127.0.0.1:{app.port}")
    assert status == 101
    assert "permessage-deflate" not in (headers.get("Sec-WebSocket-Extensions") or "")
