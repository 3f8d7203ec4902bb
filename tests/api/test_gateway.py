"""The OpenAI-compatible gateway, driven by the official `openai` SDK and by plain HTTP (as curl would)."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.api.conftest import Api
from tests.fake_upstream import Reply

LONG = " ".join(f"token{i}" for i in range(40))


def sdk(api: Api, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=api.url + "/v1",
        api_key=key,
        max_retries=0,
        http_client=openai.DefaultAsyncHttpxClient(trust_env=False),
    )


def conversations(api: Api, key: str) -> list[dict]:
    with api.client(key) as c:
        return c.get("/api/v1/conversations").json()["conversations"]


async def test_streaming_with_usage_through_the_sdk_is_stored_for_the_keys_owner(api: Api) -> None:
    api.fake.enqueue(Reply(text=LONG).tokens_per_second(400))
    before = len(conversations(api, api.alice))
    async with sdk(api, api.alice) as client:
        stream = await client.chat.completions.create(
            model="anything",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Count"}],
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == LONG
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 40
    assert len({c.id for c in chunks}) == 1 and chunks[0].model == "fake-model"
    # the caller's messages went upstream as given, and the exchange is alice's (not bob's) conversation
    assert api.fake.requests[0].messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Count"},
    ]
    mine = conversations(api, api.alice)
    assert len(mine) == before + 1 and mine[0]["title"] == "Count"
    assert mine[0]["id"] not in [x["id"] for x in conversations(api, api.bob)]
    with api.client(api.alice) as c:
        thread = c.get(f"/api/v1/conversations/{mine[0]['id']}").json()["messages"]
    assert [(m["role"], m["content"]) for m in thread] == [("user", "Count"), ("assistant", LONG)]


async def test_non_streaming_through_the_sdk_calls_upstream_without_streaming(api: Api) -> None:
    async with sdk(api, api.alice) as client:
        result = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
        )
        models = await client.models.list()
    assert result.choices[0].message.content == "You said: *Hi*\n\n- one\n- two"
    assert result.choices[0].finish_reason == "stop" and result.usage is not None and result.usage.total_tokens > 0
    assert [m.id for m in models.data] == ["fake-model"]
    assert [r.stream for r in api.fake.requests] == [False]


async def test_store_false_keeps_it_out_of_the_conversations(api: Api) -> None:
    before = conversations(api, api.alice)
    async with sdk(api, api.alice) as client:
        result = await client.chat.completions.create(
            model="m", store=False, messages=[{"role": "user", "content": "secret"}]
        )
    assert result.choices[0].message.content == "You said: *secret*\n\n- one\n- two"
    assert conversations(api, api.alice) == before


async def test_errors_reach_the_sdk_as_its_own_exceptions(api: Api) -> None:
    async with sdk(api, "sc-wrong") as client:
        with pytest.raises(openai.AuthenticationError) as bad_key:
            await client.models.list()
    assert "not valid" in bad_key.value.message
    api.fake.enqueue(Reply.fail(401), Reply.fail(401))
    async with sdk(api, api.alice) as client:
        with pytest.raises(openai.APIStatusError) as failed:
            await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        assert failed.value.status_code == 502 and "OPENAI_API_KEY" in failed.value.message
        with pytest.raises(openai.APIStatusError) as failed_stream:
            await client.chat.completions.create(model="m", stream=True, messages=[{"role": "user", "content": "x"}])
        assert failed_stream.value.status_code == 502
        with pytest.raises(openai.UnprocessableEntityError):
            await client.chat.completions.create(model="m", messages=[{"role": "tool", "content": "x"}])


def test_plain_http_streaming_is_openai_sse_ending_with_done(api: Api) -> None:
    body = {"model": "m", "stream": True, "store": False, "messages": [{"role": "user", "content": "curl"}]}
    with (
        httpx.Client(base_url=api.url, trust_env=False, timeout=20) as c,
        c.stream("POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {api.alice}"}) as s,
    ):
        assert s.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in s.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]" and '"usage"' not in "".join(lines)


def test_a_client_leaving_an_unstored_stream_stops_the_upstream(api: Api) -> None:
    api.fake.enqueue(Reply(text=LONG * 10).tokens_per_second(20))
    body = {"model": "m", "stream": True, "store": False, "messages": [{"role": "user", "content": "go"}]}
    with (
        httpx.Client(base_url=api.url, trust_env=False, timeout=20) as c,
        c.stream("POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {api.alice}"}) as s,
    ):
        for n, _line in enumerate(s.iter_lines()):
            if n > 6:
                break
    rec = api.fake.wait_for_end(timeout=10)
    assert rec.disconnected_at is not None and not rec.done_sent
