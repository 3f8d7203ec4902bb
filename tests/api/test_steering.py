"""/api/v1/conversations/{id}/settings: a conversation's own system prompt, temperature and answer length
reach the model server; bad values are problems; another user's conversation is not found."""

from __future__ import annotations

from tests.api.conftest import Api

PROBLEM = "application/problem+json"


def test_settings_reach_the_model_and_apply_to_that_conversation_only(api: Api) -> None:
    with api.client(api.alice) as c:
        steered = c.post("/api/v1/conversations", json={"title": "pirate"}).json()["id"]
        plain = c.post("/api/v1/conversations", json={"title": "plain"}).json()["id"]
        new = {"system_prompt": "Answer like a pirate.", "temperature": 0.2, "max_tokens": 120}
        r = c.patch(f"/api/v1/conversations/{steered}/settings", json=new)
        assert r.status_code == 200, r.text
        assert {k: r.json()[k] for k in new} == new and r.json()["model"] is None
        assert r.json()["usage"] == {"answers": 0, "prompt_tokens": 0, "completion_tokens": 0}

        c.post(f"/api/v1/conversations/{steered}/messages", json={"content": "Ahoy?", "stream": False})
        body = api.fake.wait_for_end(1).body or {}
        assert body["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
        assert (body["temperature"], body["max_tokens"]) == (0.2, 120)

        c.post(f"/api/v1/conversations/{plain}/messages", json={"content": "Hello?", "stream": False})
        body = api.fake.wait_for_end(2).body or {}
        assert body["messages"][0]["content"] != "Answer like a pirate."
        assert "temperature" not in body and "max_tokens" not in body

        read = c.get(f"/api/v1/conversations/{steered}/settings").json()
        assert read["system_prompt"] == "Answer like a pirate." and read["models"][0] == "fake-model"
        assert read["usage"]["answers"] == 1 and read["usage"]["completion_tokens"] > 0

        back = c.patch(f"/api/v1/conversations/{steered}/settings", json={"temperature": None}).json()
        assert back["temperature"] is None and back["system_prompt"] == "Answer like a pirate."  # others stay


def test_bad_settings_are_problems_and_change_nothing(api: Api) -> None:
    with api.client(api.alice) as c:
        cid = c.post("/api/v1/conversations").json()["id"]
        c.patch(f"/api/v1/conversations/{cid}/settings", json={"temperature": 0.5})
        for body, words in [
            ({"temperature": 5}, "between 0 and 2"),
            ({"temperature": "hot"}, "`temperature` must be"),
            ({"max_tokens": 0}, "at least 1 token"),
            ({"max_tokens": True}, "`max_tokens` must be"),
            ({"model": "no-such-model"}, "Unknown model 'no-such-model'"),
            ({"system_prompt": "x" * 8001}, "the limit is 8,000"),
            ({"colour": "blue"}, "Unknown setting `colour`"),
        ]:
            r = c.patch(f"/api/v1/conversations/{cid}/settings", json=body)
            assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), (body, r.text)
            assert words in r.json()["detail"], (body, r.json())
        assert c.get(f"/api/v1/conversations/{cid}/settings").json()["temperature"] == 0.5
    with api.client(api.bob) as bob:
        assert bob.get(f"/api/v1/conversations/{cid}/settings").status_code == 404
        assert bob.patch(f"/api/v1/conversations/{cid}/settings", json={"temperature": 1}).status_code == 404
