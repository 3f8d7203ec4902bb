"""GET /api/v1/search: the caller's titles and messages, snippets as text with match offsets, bad input a problem."""

from __future__ import annotations

from tests.api.conftest import Api

PROBLEM = "application/problem+json"


def test_search_finds_the_callers_messages_with_match_offsets(api: Api) -> None:
    with api.client(api.alice) as c:
        cid = c.post("/api/v1/conversations", json={"title": "Marsupials"}).json()["id"]
        body = {"content": "Is a <b>wombat</b> fast?", "stream": False}
        sent = c.post(f"/api/v1/conversations/{cid}/messages", json=body)
        assert sent.status_code == 200
        r = c.get("/api/v1/search", params={"q": "WOMBAT"})
        assert r.status_code == 200
        results = r.json()["results"]
        user = next(x for x in results if x["role"] == "user")
        assert {k: user[k] for k in ("conversation_id", "title", "snippet")} == {
            "conversation_id": cid, "title": "Marsupials", "snippet": "Is a <b>wombat</b> fast?"}
        assert [user["snippet"][a:b] for a, b in user["highlights"]] == ["wombat"]
        assert isinstance(user["message_id"], int)
        titled = c.get("/api/v1/search", params={"q": "marsup"}).json()["results"]
        found = [(x["conversation_id"], x["message_id"], x["title_highlights"]) for x in titled]
        assert found == [(cid, None, [[0, 10]])]
    with api.client(api.bob) as c:  # another user finds nothing of alice's
        assert c.get("/api/v1/search", params={"q": "wombat"}).json() == {"results": []}


def test_operators_are_words_and_bad_input_is_a_problem(api: Api) -> None:
    with api.client(api.alice) as c:
        for q in ['"', "*", "AND", "-", "NOT (", "a:b"]:
            r = c.get("/api/v1/search", params={"q": q})
            assert r.status_code == 200 and isinstance(r.json()["results"], list), (q, r.text)
        for params in ({}, {"q": "   "}, {"q": "x" * 201}, {"q": "ok", "limit": 0}, {"q": "ok", "limit": "many"}):
            r = c.get("/api/v1/search", params=params)
            assert (r.status_code, r.headers["content-type"]) == (422, PROBLEM), (params, r.text)
            assert r.json()["detail"]
    with api.client() as c:
        assert c.get("/api/v1/search", params={"q": "wombat"}).status_code == 401
