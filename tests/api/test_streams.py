"""Sending and following answers over /api/v1: SSE framing and offsets, NDJSON, one JSON, resume, stop."""

from __future__ import annotations

import json
import time

import httpx

from tests.api.conftest import Api, SseEvent, sse_events, until_deltas
from tests.fake_upstream import Reply

LONG = " ".join(f"word{i}" for i in range(80)) + " ünïcødé ✓ end."


def new_conversation(c) -> str:
    return c.post("/api/v1/conversations").json()["id"]


def stored_answer(c, cid: str) -> dict:
    return c.get(f"/api/v1/conversations/{cid}").json()["messages"][-1]


def send(c: httpx.Client, cid: str, content: str, accept: str = "text/event-stream"):
    """A streamed send, as a context manager giving the response."""
    return c.stream(
        "POST", f"/api/v1/conversations/{cid}/messages", json={"content": content}, headers={"Accept": accept}
    )


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def check_deltas(events: list[SseEvent], start: int = 0) -> str:
    """Each delta's id is the answer's length in characters up to its end."""
    text = ""
    for e in events:
        if e.event == "delta":
            text += e.data["text"]
            assert set(e.data) == {"text"} and int(e.id or -1) == start + len(text)
    return text


def test_sse_gives_message_then_deltas_with_offsets_then_done(api: Api) -> None:
    api.fake.enqueue(Reply(text=LONG, first_token_delay=0.2).tokens_per_second(400))
    with api.client(api.alice) as c:
        cid = new_conversation(c)
        with send(c, cid, "hi", "text/event-stream") as s:
            assert s.status_code == 200 and s.headers["content-type"].startswith("text/event-stream")
            events = list(sse_events(s))
        assert events[0].event == "message"
        mid = events[0].data["message_id"]
        assert events[0].data == {"message_id": mid, "conversation_id": cid}
        assert {"connecting", "waiting"} & {e.data["phase"] for e in events if e.event == "status"}
        assert check_deltas(events) == LONG
        assert len([e for e in events if e.event == "delta"]) > 1
        done = events[-1]
        assert done.event == "done" and done.data["status"] == "done" and "error" not in done.data
        assert done.data["ttft_ms"] >= 150 and done.data["usage"]["completion_tokens"] > 0
        assert [e.event for e in events].count("done") == 1
        stored = stored_answer(c, cid)
        assert (stored["id"], stored["content"], stored["status"]) == (mid, LONG, "done")


def test_ndjson_gives_the_same_objects_with_a_type(api: Api) -> None:
    api.fake.enqueue(Reply(text=LONG).tokens_per_second(400))
    with api.client(api.alice) as c:
        cid = new_conversation(c)
        with send(c, cid, "hi", "application/x-ndjson") as s:
            assert s.headers["content-type"].startswith("application/x-ndjson")
            objects = [json.loads(line) for line in s.iter_lines() if line]
    assert objects[0]["type"] == "message" and objects[0]["conversation_id"] == cid
    assert objects[-1]["type"] == "done" and objects[-1]["status"] == "done"
    text = ""
    for o in objects:
        assert o["type"] in {"message", "delta", "status", "done"}
        if o["type"] == "delta":
            text += o["text"]
            assert o["offset"] == len(text)
    assert text == LONG


def test_stream_false_or_accept_json_gives_one_message_and_asks_upstream_without_streaming(api: Api) -> None:
    with api.client(api.alice) as c:
        cid = new_conversation(c)
        r = c.post(f"/api/v1/conversations/{cid}/messages", json={"content": "one", "stream": False})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        message = r.json()["message"]
        assert (message["role"], message["status"]) == ("assistant", "done")
        assert message["content"] == "You said: *one*\n\n- one\n- two" == stored_answer(c, cid)["content"]
        assert message["usage"]["completion_tokens"] > 0
        r = c.post(
            f"/api/v1/conversations/{cid}/messages", json={"content": "two"}, headers={"Accept": "application/json"}
        )
        assert r.json()["message"]["content"] == "You said: *two*\n\n- one\n- two"
    assert [rec.stream for rec in api.fake.requests] == [False, False]


def test_a_client_that_disconnects_only_unsubscribes_and_resumes_exactly_once(api: Api) -> None:
    api.fake.enqueue(Reply(text=LONG).tokens_per_second(40))
    with api.client(api.alice) as c:
        cid = new_conversation(c)
        with c.stream("POST", f"/api/v1/conversations/{cid}/messages", json={"content": "go"}) as s:
            got = until_deltas(s, 3)
        mid = got[0].data["message_id"]
        first = check_deltas(got)
        offset = int([e for e in got if e.event == "delta"][-1].id or 0)
        # the answer goes on without anyone listening
        wait_for(lambda: c.get("/api/stats").json()["subscribers"] == 0)
        assert c.get("/api/stats").json()["generations"] >= 1 and api.fake.requests[0].disconnected_at is None
        with c.stream("GET", f"/api/v1/messages/{mid}/stream", headers={"Last-Event-ID": str(offset)}) as s:
            rest = list(sse_events(s))
        assert rest[0].event == "message" and rest[0].data == {"message_id": mid, "conversation_id": cid}
        assert first + check_deltas(rest, start=offset) == LONG == stored_answer(c, cid)["content"]
        assert rest[-1].event == "done" and rest[-1].data["status"] == "done"
        # a finished answer replays from any offset and ends with done; ?after= works for NDJSON
        with c.stream(
            "GET", f"/api/v1/messages/{mid}/stream?after=10", headers={"Accept": "application/x-ndjson"}
        ) as s:
            replay = [json.loads(line) for line in s.iter_lines() if line]
        assert "".join(o["text"] for o in replay if o["type"] == "delta") == LONG[10:]
        assert replay[-1]["type"] == "done" and replay[-1]["status"] == "done"
    rec = api.fake.requests[0]
    assert rec.done_sent and rec.disconnected_at is None


def test_stop_returns_202_and_closes_the_upstream(api: Api) -> None:
    api.fake.enqueue(Reply(text=LONG * 5).tokens_per_second(20))
    with api.client(api.alice) as c:
        cid = new_conversation(c)
        with c.stream("POST", f"/api/v1/conversations/{cid}/messages", json={"content": "long"}) as s:
            events = sse_events(s)
            mid = next(events).data["message_id"]
            next(e for e in events if e.event == "delta")
            with api.client(api.bob) as bob:
                assert bob.post(f"/api/v1/messages/{mid}/stop").status_code == 404
            r = c.post(f"/api/v1/messages/{mid}/stop")
            assert (r.status_code, r.json()) == (202, {"message_id": mid, "stopping": True})
            done = [e for e in events if e.event == "done"]
        assert done[0].data["status"] == "stopped"
        rec = api.fake.wait_for_end()
        assert rec.disconnected_at is not None and not rec.done_sent
        wait_for(lambda: stored_answer(c, cid)["status"] == "stopped")
        again = c.post(f"/api/v1/messages/{mid}/stop")
        assert (again.status_code, again.json()["stopping"]) == (202, False)


def test_a_client_that_reads_late_gets_every_character_once(api: Api) -> None:
    big = " ".join(f"w{i}" for i in range(6000))
    api.fake.enqueue(Reply(text=big))  # as fast as the fake can write
    with api.client(api.alice) as c:
        cid = new_conversation(c)
        with send(c, cid, "all at once") as s:
            events = sse_events(s)
            assert next(events).event == "message"
            api.fake.wait_for_end(timeout=30)  # the whole answer arrived while this client read nothing
            rest = list(events)
        assert check_deltas(rest) == big == stored_answer(c, cid)["content"]
        assert rest[-1].event == "done"
