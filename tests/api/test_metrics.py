"""`/metrics`: Prometheus series for operators, behind METRICS_TOKEN (404 without one configured)."""

from __future__ import annotations

import threading

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Api, create_key, sse_events
from tests.conftest import StartApp
from tests.fake_upstream import FakeUpstream, Reply

TOKEN = "metrics-token-for-tests"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_without_a_metrics_token_there_is_no_metrics_page(api: Api) -> None:
    response = httpx.get(f"{api.url}/metrics", headers={"Authorization": "Bearer anything"}, trust_env=False)
    assert response.status_code == 404


def test_metrics_count_answers_tokens_stops_and_upstream_errors(
    app_server: StartApp, fake_upstream: FakeUpstream
) -> None:
    server = app_server({"METRICS_TOKEN": TOKEN, "MAX_RETRIES": "0"})
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert httpx.get(f"{server.url}/metrics", headers=headers, trust_env=False).status_code == 401
    key = create_key(server, "alice")
    gate = threading.Event()
    fake_upstream.enqueue(Reply(text="one two three four"), Reply.fail(500), Reply(text="held", hold=gate))
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=20, trust_env=False)
    try:
        with api:
            cid = api.post("/api/v1/conversations").json()["id"]
            path = f"/api/v1/conversations/{cid}/messages"
            done = api.post(path, json={"content": "count", "stream": False}).json()["message"]
            assert done["status"] == "done"
            failed = api.post(path, json={"content": "fail", "stream": False}).json()["message"]
            assert failed["status"] == "error"
            with api.stream("POST", path, json={"content": "hold"}) as s:
                events = sse_events(s)
                mid = next(events).data["message_id"]
                fake_upstream.wait_for_request(3)
                assert scrape(server.url)[("streamchat_active_generations", ())] == 1
                assert api.post(f"/api/v1/messages/{mid}/stop").status_code == 202
                assert [e.data["status"] for e in events if e.event == "done"] == ["stopped"]
    finally:
        gate.set()
    seen = scrape(server.url)
    assert seen[("streamchat_active_generations", ())] == 0
    assert seen[("streamchat_tokens_total", (("kind", "completion"),))] == 4
    assert seen[("streamchat_tokens_total", (("kind", "prompt"),))] > 0
    assert seen[("streamchat_time_to_first_token_seconds_count", ())] == 1  # the failed and the held one had none
    assert seen[("streamchat_answer_duration_seconds_count", ())] == 3
    assert seen[("streamchat_upstream_errors_total", (("kind", "server_error"),))] == 1
    assert seen[("streamchat_stops_total", ())] == 1
    assert seen[("streamchat_answers_total", (("status", "done"),))] == 1
