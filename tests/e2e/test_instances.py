"""Issue #9 "Many instances": two app processes on one PostgreSQL and one real Redis, tabs on both.

What a sticky load balancer gives: each browser usually reaches one instance, but a second tab, a
reload after a failover or an API client may reach the other. Both share STORAGE_SECRET, so the
browser's identity cookie (scoped to the host, not the port) is the same user on either.
"""

from __future__ import annotations

import httpx
import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.api.conftest import create_key, sse_events, until_deltas
from tests.api.test_streams import check_deltas
from tests.conftest import AppServer, free_port
from tests.e2e.test_chat import chat_url, final_words, last_answer, send
from tests.e2e.test_lifecycle import WORDS, slow
from tests.fake_upstream import FakeUpstream

SECRET = "a-storage-secret-shared-by-every-instance-0123456789"


@pytest.fixture
def app_database() -> str:
    return "postgres"  # what a team runs several instances on


@pytest.fixture
def two_instances(app_server, redis_url: str) -> tuple[AppServer, AppServer]:
    env = {"REDIS_URL": redis_url, "STORAGE_SECRET": SECRET, "INSTANCE_TTL_S": "3"}
    return app_server(env), app_server(env)


def row(server: AppServer, message_id: str) -> tuple[str, str]:
    """An answer's stored (status, content), read from the shared database itself."""
    url = server.env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT status, content FROM message WHERE id = %s", (int(message_id),)).fetchone()
    assert found is not None
    return found[0], found[1]


def test_a_tab_on_b_sees_follows_and_stops_an_answer_that_a_generates(
    two_instances: tuple[AppServer, AppServer], fake_upstream: FakeUpstream, page: Page
) -> None:
    a, b = two_instances
    on_b = page.context.new_page()
    on_b.goto(b.url)
    page.goto(a.url)
    fake_upstream.enqueue(slow(rate=30))
    send(page, "Generated on A")
    link = on_b.get_by_role("link", name="Generated on A")
    expect(link).to_be_visible()  # B's sidebar heard of the new conversation
    link.click()
    answer_b = last_answer(on_b)
    expect(answer_b).to_have_attribute("data-status", "streaming")
    expect(answer_b).to_contain_text("word15")  # followed live, not only the stored checkpoint
    on_b.screenshot(path=str(b.data_dir / "b-follows-a.png"))
    on_b.get_by_role("button", name="Stop").click()
    rec = fake_upstream.wait_for_end(1)
    assert rec.disconnected_at is not None and not rec.done_sent  # A closed its upstream
    for tab in (on_b, page):
        expect(last_answer(tab)).to_have_attribute("data-status", "stopped")
        expect(tab.get_by_role("button", name="Send")).to_be_visible()
    on_b.screenshot(path=str(b.data_dir / "b-stopped-a.png"))
    status, content = row(a, answer_b.get_attribute("data-message-id") or "")
    assert status == "stopped" and "word15" in content and "word239" not in content
    assert final_words(answer_b) == content.split() == final_words(last_answer(page))


def test_killing_a_mid_answer_interrupts_only_its_answers_and_a_restart_leaves_b_alone(
    two_instances: tuple[AppServer, AppServer], fake_upstream: FakeUpstream, page: Page
) -> None:
    a, b = two_instances
    fake_upstream.enqueue(slow(rate=20))
    page.goto(a.url)
    send(page, "Runs on A")
    expect(last_answer(page)).to_contain_text("word20")
    on_b = page.context.new_page()
    on_b.goto(chat_url(page).replace(a.url, b.url))  # A's conversation, opened on B
    expect(last_answer(on_b)).to_have_attribute("data-status", "streaming")
    fake_upstream.enqueue(slow(rate=12))
    own = page.context.new_page()
    own.goto(b.url)
    send(own, "Runs on B")
    expect(last_answer(own)).to_contain_text("word5")

    a.kill9()
    interrupted = last_answer(on_b)
    expect(interrupted).to_have_attribute("data-status", "interrupted", timeout=15_000)
    expect(interrupted).to_contain_text("stopped before it finished")
    expect(interrupted.get_by_role("button", name="Retry")).to_be_visible()
    words = interrupted.locator(".md-view").inner_text().split()
    assert "word20" in words and "word239" not in words
    assert row(b, interrupted.get_attribute("data-message-id") or "")[0] == "interrupted"
    on_b.screenshot(path=str(b.data_dir / "b-shows-a-died.png"))

    a.start()  # a new instance: B's answer is not its to end
    expect(last_answer(own)).to_have_attribute("data-status", "streaming")
    expect(last_answer(own)).to_have_attribute("data-status", "done", timeout=30_000)
    assert final_words(last_answer(own)) == WORDS.split()


def test_the_api_resumes_on_b_an_answer_started_on_a(
    two_instances: tuple[AppServer, AppServer], fake_upstream: FakeUpstream
) -> None:
    a, b = two_instances
    key = create_key(a, "carol@example.com")
    fake_upstream.enqueue(slow(rate=40))
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=a.url, headers=headers, timeout=20, trust_env=False) as on_a:
        cid = on_a.post("/api/v1/conversations").json()["id"]
        with on_a.stream("POST", f"/api/v1/conversations/{cid}/messages", json={"content": "go"}) as s:
            got = until_deltas(s, 3)
    mid = got[0].data["message_id"]
    first = check_deltas(got)
    offset = int([e for e in got if e.event == "delta"][-1].id or 0)
    with httpx.Client(base_url=b.url, headers=headers, timeout=20, trust_env=False) as on_b:
        with on_b.stream("GET", f"/api/v1/messages/{mid}/stream", headers={"Last-Event-ID": str(offset)}) as s:
            rest = list(sse_events(s))
        assert rest[-1].event == "done" and rest[-1].data["status"] == "done"
        stored = on_b.get(f"/api/v1/conversations/{cid}").json()["messages"][-1]
        assert first + check_deltas(rest, start=offset) == WORDS == stored["content"]
        stop = on_b.post(f"/api/v1/messages/{mid}/stop")
        assert stop.status_code in (200, 202, 409)  # ended: nothing to stop, but it is carol's answer


def test_several_instances_refuse_to_start_without_a_shared_secret(app_server, redis_url: str) -> None:
    server = app_server({"REDIS_URL": redis_url, "STORAGE_SECRET": None}, wait=False)
    assert server.proc is not None and server.proc.wait(60) != 0
    assert "REDIS_URL (several instances) needs STORAGE_SECRET" in server.log_text()


def test_readyz_names_redis_when_it_cannot_be_reached(app_server) -> None:
    server = app_server({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "STORAGE_SECRET": SECRET})
    with httpx.Client(base_url=server.url, timeout=20, trust_env=False) as c:
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "redis: not reachable" in ready.json()["detail"]
        assert "database" not in ready.json()["detail"]


def test_a_users_limits_hold_across_instances(app_server, redis_url: str, fake_upstream: FakeUpstream) -> None:
    env = {"REDIS_URL": redis_url, "STORAGE_SECRET": SECRET, "MAX_CONCURRENT_PER_USER": "1"}
    a, b = app_server(env), app_server(env)
    key = create_key(a, "dave@example.com")
    headers = {"Authorization": f"Bearer {key}"}
    fake_upstream.enqueue(slow(rate=20))
    with (httpx.Client(base_url=a.url, headers=headers, timeout=20, trust_env=False) as on_a,
          httpx.Client(base_url=b.url, headers=headers, timeout=20, trust_env=False) as on_b):
        first, second = (c.post("/api/v1/conversations").json()["id"] for c in (on_a, on_b))
        with on_a.stream("POST", f"/api/v1/conversations/{first}/messages", json={"content": "one"}) as s:
            assert next(sse_events(s)).event == "message"  # answering on A
            refused = on_b.post(f"/api/v1/conversations/{second}/messages", json={"content": "two"},
                                headers={"Accept": "application/json"})
        assert refused.status_code == 429 and "1 answers being written" in refused.json()["detail"]
        assert refused.headers["Retry-After"]
    fake_upstream.wait_for_end(1, timeout=30)  # A's answer went on after its client left
    assert len(fake_upstream.requests) == 1  # the refused start never reached the model
