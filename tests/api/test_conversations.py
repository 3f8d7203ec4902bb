"""/api/v1 conversations: create, list, read, delete; other users' ids are 404; bad input is a problem."""

from __future__ import annotations

import threading

from tests.api.conftest import MAX_MESSAGE_CHARS, Api, sse_events
from tests.fake_upstream import Reply

PROBLEM = "application/problem+json"


def test_create_list_read_and_delete_a_conversation(api: Api) -> None:
    with api.client(api.alice) as c:
        r = c.post("/api/v1/conversations", json={"title": "Trip planning"})
        assert r.status_code == 201
        cid = r.json()["id"]
        assert c.post("/api/v1/conversations").status_code == 201  # the body is optional
        listed = c.get("/api/v1/conversations").json()["conversations"]
        assert {"id", "title", "updated_at"} <= set(listed[0]) and cid in [x["id"] for x in listed]
        sent = c.post(f"/api/v1/conversations/{cid}/messages", json={"content": "Where to?", "stream": False})
        assert sent.status_code == 200
        conv = c.get(f"/api/v1/conversations/{cid}").json()
        assert (conv["id"], conv["title"]) == (cid, "Trip planning")
        assert [(m["role"], m["status"]) for m in conv["messages"]] == [("user", "done"), ("assistant", "done")]
        assert conv["messages"][0]["content"] == "Where to?"
        assert conv["messages"][1]["content"] == "You said: *Where to?*\n\n- one\n- two"
        deleted = c.delete(f"/api/v1/conversations/{cid}")
        assert deleted.status_code == 200 and deleted.json()["messages"] == conv["messages"]
        assert c.get(f"/api/v1/conversations/{cid}").status_code == 404
        assert cid not in [x["id"] for x in c.get("/api/v1/conversations").json()["conversations"]]


def test_another_users_ids_are_not_found(api: Api) -> None:
    with api.client(api.alice) as alice:
        cid = alice.post("/api/v1/conversations").json()["id"]
        mid = alice.post(f"/api/v1/conversations/{cid}/messages", json={"content": "mine", "stream": False}).json()[
            "message"
        ]["id"]
    with api.client(api.bob) as bob:
        assert cid not in [x["id"] for x in bob.get("/api/v1/conversations").json()["conversations"]]
        for method, path in [
            ("GET", f"/api/v1/conversations/{cid}"),
            ("DELETE", f"/api/v1/conversations/{cid}"),
            ("POST", f"/api/v1/conversations/{cid}/messages"),
            ("GET", f"/api/v1/messages/{mid}/stream"),
            ("POST", f"/api/v1/messages/{mid}/stop"),
            ("GET", "/api/v1/messages/999999/stream"),
            ("GET", "/api/v1/conversations/no-such-id"),
        ]:
            r = bob.request(method, path, json={"content": "theirs"} if method == "POST" else None)
            assert (r.status_code, r.headers["content-type"]) == (404, PROBLEM), (method, path, r.text)
            assert r.json()["status"] == 404
    with api.client(api.alice) as alice:  # and nothing of alice's changed
        conv = alice.get(f"/api/v1/conversations/{cid}").json()
        assert next(m["content"] for m in conv["messages"]) == "mine" and len(conv["messages"]) == 2


def test_bad_input_gets_a_clear_4xx_problem(api: Api) -> None:
    with api.client(api.alice) as c:
        cid = c.post("/api/v1/conversations").json()["id"]
        path = f"/api/v1/conversations/{cid}/messages"
        cases = [
            ({"json": {"content": "   \n"}}, 422),
            ({"json": {"content": 5}}, 422),
            ({"json": {"content": "hi", "stream": "yes"}}, 422),
            ({"json": ["content"]}, 422),
            ({"content": b'{"content": "unterminated', "headers": {"Content-Type": "application/json"}}, 422),
            ({"content": b"", "headers": {"Content-Type": "application/json"}}, 422),
            ({"json": {"content": "x" * (MAX_MESSAGE_CHARS + 1)}}, 413),
            ({"content": b"x" * (MAX_MESSAGE_CHARS * 8 + 70_000)}, 413),
        ]
        for kwargs, status in cases:
            r = c.post(path, **kwargs)
            assert (r.status_code, r.headers["content-type"]) == (status, PROBLEM), (kwargs, r.text[:200])
            assert r.json()["detail"]
        assert c.get("/api/v1/messages/not-a-number/stream").status_code == 422
        assert c.get("/api/v1/messages/1/stream", headers={"Last-Event-ID": "abc"}).status_code == 422
        # nothing was stored by any of them
        assert c.get(f"/api/v1/conversations/{cid}").json()["messages"] == []
    assert api.fake.requests == []


def test_a_second_message_or_a_delete_while_answering_is_409(api: Api) -> None:
    hold = threading.Event()
    api.fake.enqueue(Reply(text="held answer", hold=hold))
    with api.client(api.alice) as c:
        cid = c.post("/api/v1/conversations").json()["id"]
        with c.stream("POST", f"/api/v1/conversations/{cid}/messages", json={"content": "first"}) as s:
            events = sse_events(s)
            assert next(events).event == "message"
            api.fake.wait_for_request()
            second = c.post(f"/api/v1/conversations/{cid}/messages", json={"content": "second"})
            assert (second.status_code, second.headers["content-type"]) == (409, PROBLEM)
            assert c.delete(f"/api/v1/conversations/{cid}").status_code == 409
            hold.set()
            assert next(e.data for e in events if e.event == "done")["status"] == "done"
        assert c.delete(f"/api/v1/conversations/{cid}").status_code == 200
    assert len(api.fake.requests) == 1


def test_rename_pin_and_export_through_the_api(api: Api) -> None:
    with api.client(api.alice) as c:
        cid = c.post("/api/v1/conversations", json={"title": "draft"}).json()["id"]
        c.post(f"/api/v1/conversations/{cid}/messages", json={"content": "hello", "stream": False})
        r = c.patch(f"/api/v1/conversations/{cid}", json={"title": "  Final  plan ", "pinned": True})
        assert r.status_code == 200 and (r.json()["title"], r.json()["pinned"]) == ("Final plan", True)
        for body in ({"title": " "}, {"pinned": "yes"}, {"title": 3}):
            bad = c.patch(f"/api/v1/conversations/{cid}", json=body)
            assert (bad.status_code, bad.headers["content-type"]) == (422, PROBLEM), body
        md = c.get(f"/api/v1/conversations/{cid}/export", params={"format": "markdown"})
        assert md.headers["content-type"].startswith("text/markdown")
        assert md.headers["content-disposition"].startswith('attachment; filename="final-plan.md"')
        c.patch(f"/api/v1/conversations/{cid}", json={"title": "東京 trip"})
        named = c.get(f"/api/v1/conversations/{cid}/export").headers["content-disposition"]
        assert named == "attachment; filename=\"__-trip.json\"; filename*=UTF-8''%E6%9D%B1%E4%BA%AC-trip.json"
        assert md.text.startswith("# Final plan\n") and "hello" in md.text
        doc = c.get(f"/api/v1/conversations/{cid}/export").json()
        assert doc["format"] == "streamchat.conversations" and doc["conversations"][0]["pinned"] is True
        assert c.get(f"/api/v1/conversations/{cid}/export", params={"format": "pdf"}).status_code == 422
    with api.client(api.bob) as bob:
        assert bob.patch(f"/api/v1/conversations/{cid}", json={"title": "mine"}).status_code == 404
        assert bob.get(f"/api/v1/conversations/{cid}/export").status_code == 404
