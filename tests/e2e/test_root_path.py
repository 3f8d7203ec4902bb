"""`--root-path /chat` behind a proxy that serves the app under /chat/: pages, the websocket, links,
the API and its docs all work through the prefix."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.api.conftest import create_key
from tests.e2e.test_chat import chat_url, last_answer, send
from tests.e2e.test_faults import screenshot
from tests.fake_upstream import FakeUpstream
from tests.prefix_proxy import PrefixProxy


def test_the_app_works_under_a_path_prefix(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    app = app_server({"ROOT_PATH": "/chat", "METRICS_TOKEN": "scrape"}, ready_path="/healthz")
    proxy = PrefixProxy(app.url, "/chat").start()
    try:
        page.goto(proxy.url + "/")
        send(page, "Hello through the prefix")
        expect(last_answer(page)).to_have_attribute("data-status", "done")
        expect(last_answer(page)).to_contain_text("Hello through the prefix")
        assert chat_url(page).startswith(proxy.url + "/c/")  # the conversation's address keeps the prefix
        assert any(p.startswith("WS /_nicegui_ws/") for p in proxy.passed)  # live updates came through it
        assert any(p.startswith("GET /_streamchat/markdown.css") for p in proxy.passed)
        scraped = httpx.get(proxy.url + "/metrics", headers={"Authorization": "Bearer scrape"}, trust_env=False).text
        assert "streamchat_websocket_clients 1.0" in scraped.splitlines()
        page.get_by_role("button", name="New chat").click()
        expect(page.get_by_text("What can I help with?")).to_be_visible()  # the new page, not the old one
        page.get_by_role("link", name="Hello through the prefix").click()
        expect(page.locator('[data-role="user"]')).to_have_text("Hello through the prefix")
        assert page.url.startswith(proxy.url + "/c/")
        expect(page.get_by_role("link", name="Hello through the prefix")).to_be_visible()
        screenshot(page, "root-path.png")

        key = create_key(app, "alice")
        with httpx.Client(base_url=proxy.url, headers={"Authorization": f"Bearer {key}"}, trust_env=False) as c:
            assert c.get("/healthz").json() == {"status": "ok"}
            cid = c.post("/api/v1/conversations").json()["id"]
            sent = c.post(f"/api/v1/conversations/{cid}/messages", json={"content": "API", "stream": False})
            assert sent.json()["message"]["status"] == "done"
            missing = c.get("/api/v1/conversations/nope")
            assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
            assert c.get("/api/docs").status_code == 200
        page.goto(proxy.url + "/api/docs")
        page.get_by_role("link", name="/api/openapi.json").click()
        assert page.url == proxy.url + "/api/openapi.json"
    finally:
        proxy.stop()
