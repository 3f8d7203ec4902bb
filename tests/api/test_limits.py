"""Per-user limits over HTTP: 429 problem+json with Retry-After on /api/v1, OpenAI's error shape on /v1,
the upstream never called for a refused start, and MAX_ANSWER_TOKENS sent upstream."""

from __future__ import annotations

import threading

import httpx
import openai
import pytest

from tests.api.conftest import create_key
from tests.conftest import StartApp
from tests.fake_upstream import FakeUpstream, Reply


def client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=20, trust_env=False)


def send(c: httpx.Client, cid: str, text: str) -> httpx.Response:
    return c.post(f"/api/v1/conversations/{cid}/messages", json={"content": text, "stream": False})


def test_over_the_rate_limit_the_api_and_gateway_answer_429_and_nothing_goes_upstream(
    app_server: StartApp, fake_upstream: FakeUpstream
) -> None:
    server = app_server({"RATE_LIMIT_PER_MIN": "2", "MAX_ANSWER_TOKENS": "77"})
    alice, bob = create_key(server, "alice"), create_key(server, "bob")
    with client(server.url, alice) as c:
        cid = c.post("/api/v1/conversations").json()["id"]
        assert [send(c, cid, f"question {i}").status_code for i in range(2)] == [200, 200]
        refused = send(c, cid, "one too many")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "messages per minute" in refused.json()["detail"]
        gateway = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        assert gateway.status_code == 429 and gateway.headers["retry-after"]
        assert gateway.json()["error"]["code"] == "rate_limit_exceeded"
        thread = c.get(f"/api/v1/conversations/{cid}").json()["messages"]
    assert [m["content"] for m in thread if m["role"] == "user"] == ["question 0", "question 1"]
    assert len(fake_upstream.requests) == 2
    assert [r.body["max_tokens"] for r in fake_upstream.requests] == [77, 77]  # an OpenAI-compatible server
    sdk = openai.OpenAI(base_url=server.url + "/v1", api_key=alice, max_retries=0,
                        http_client=openai.DefaultHttpxClient(trust_env=False))
    with pytest.raises(openai.RateLimitError, match="messages per minute"):
        sdk.chat.completions.create(model="any", messages=[{"role": "user", "content": "hi"}])
    with client(server.url, bob) as c:  # the limit is alice's, not everyone's
        cid = c.post("/api/v1/conversations").json()["id"]
        assert send(c, cid, "bob's question").status_code == 200


def test_over_the_concurrency_limit_a_start_is_refused_until_an_answer_ends(
    app_server: StartApp, fake_upstream: FakeUpstream
) -> None:
    server = app_server({"MAX_CONCURRENT_PER_USER": "1"})
    alice = create_key(server, "alice")
    gate = threading.Event()
    fake_upstream.enqueue(Reply(text="slow answer", hold=gate))
    try:
        with client(server.url, alice) as c:
            first, second = (c.post("/api/v1/conversations").json()["id"] for _ in range(2))
            with c.stream("POST", f"/api/v1/conversations/{first}/messages", json={"content": "long"}) as s:
                fake_upstream.wait_for_request(1)
                refused = send(c, second, "meanwhile")
                assert refused.status_code == 429 and "Wait for one to finish" in refused.json()["detail"]
                assert int(refused.headers["retry-after"]) > 0
                gate.set()
                s.read()
            assert len(fake_upstream.requests) == 1
            assert send(c, second, "now").status_code == 200
    finally:
        gate.set()
