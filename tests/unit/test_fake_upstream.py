"""The fake upstream must look like Azure to the real `openai` SDK, or e2e tests prove nothing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import get_bearer_token_provider
from hypothesis import given
from hypothesis import strategies as st
from openai import AsyncAzureOpenAI, AsyncOpenAI

from tests.fake_credential import failing_credential, ok_credential
from tests.fake_upstream import FakeUpstream, Reply, default_text, tokenize

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]
SCOPE = "https://cognitiveservices.azure.com/.default"
_clients: list[AsyncOpenAI] = []


@pytest.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    """Close every SDK client on the test's own loop, so no keep-alive socket outlives it."""
    yield
    while _clients:
        await _clients.pop().close()


def azure(fake: FakeUpstream, **kw: Any) -> AsyncAzureOpenAI:
    kw.setdefault("api_key", "azure-key")
    client = AsyncAzureOpenAI(azure_endpoint=fake.url, api_version="2024-10-21", max_retries=0, **kw)
    _clients.append(client)
    return client


def plain(fake: FakeUpstream, base: str = "/v1", **kw: Any) -> AsyncOpenAI:
    client = AsyncOpenAI(base_url=fake.url + base, api_key="test-key", max_retries=0, **kw)
    _clients.append(client)
    return client


async def collect(client: AsyncOpenAI, model: str = "fake-deploy", **kw: Any) -> list[Any]:
    stream = await client.chat.completions.create(model=model, messages=MSGS, stream=True,
                                                  stream_options={"include_usage": True}, **kw)
    async with stream:
        return [c async for c in stream]


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].delta)


async def test_azure_classic_stream_wire_format(fake_upstream: FakeUpstream) -> None:
    chunks = await collect(azure(fake_upstream))
    req = fake_upstream.requests[0]
    assert req.path == "/openai/deployments/fake-deploy/chat/completions"
    assert req.query == {"api-version": "2024-10-21"}
    assert req.headers["api-key"] == "azure-key"
    assert req.stream and req.body["stream_options"] == {"include_usage": True}
    assert req.messages == MSGS
    first = chunks[0]
    assert first.choices == [] and first.object == ""
    assert first.model_extra["prompt_filter_results"][0]["content_filter_results"]["hate"]["filtered"] is False
    assert chunks[1].choices[0].delta.role == "assistant"
    assert chunks[2].choices[0].model_extra["content_filter_results"]["violence"]["severity"] == "safe"
    assert text_of(chunks) == "You said: *hello there*\n\n- one\n- two"
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage = chunks[-1]
    assert usage.choices == [] and usage.usage.completion_tokens == req.chunks_sent > 3
    assert req.done_sent and req.disconnected_at is None and req.status == 200


async def test_azure_v1_and_openai_routes(fake_upstream: FakeUpstream) -> None:
    assert text_of(await collect(plain(fake_upstream, "/openai/v1/"), model="dep")).startswith("You said")
    chunks = await collect(plain(fake_upstream), model="fake-model")
    assert [r.path for r in fake_upstream.requests] == ["/openai/v1/chat/completions", "/v1/chat/completions"]
    assert fake_upstream.requests[1].headers["authorization"] == "Bearer test-key"
    assert chunks[1].model == "fake-model"
    models = await plain(fake_upstream).models.list()
    assert [m.id for m in models.data] == ["fake-model"]


async def test_non_streaming(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="Plain **answer**", finish_reason="length"))
    out = await azure(fake_upstream).chat.completions.create(model="d", messages=MSGS)
    assert out.choices[0].message.content == "Plain **answer**"
    assert out.choices[0].finish_reason == "length"
    assert out.model_extra["prompt_filter_results"][0]["prompt_index"] == 0
    assert out.usage.completion_tokens == 2
    assert fake_upstream.requests[0].stream is False


async def test_queue_then_default_and_speed(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="a b c d e").tokens_per_second(50))
    client = plain(fake_upstream)
    t0 = time.monotonic()
    assert text_of(await collect(client)) == "a b c d e"
    assert time.monotonic() - t0 >= 4 / 50
    assert text_of(await collect(client)).startswith("You said: *hello there*")


@pytest.mark.parametrize(("status", "exc", "code"), [
    (401, openai.AuthenticationError, "401"),
    (403, openai.PermissionDeniedError, "PermissionDenied"),
    (404, openai.NotFoundError, "DeploymentNotFound"),
    (429, openai.RateLimitError, "429"),
    (500, openai.InternalServerError, "InternalServerError"),
    (503, openai.InternalServerError, "ServiceUnavailable"),
])
async def test_http_errors_map_to_sdk_exceptions(fake_upstream: FakeUpstream, status: int,
                                                 exc: type[Exception], code: str) -> None:
    fake_upstream.enqueue(Reply.fail(status))
    with pytest.raises(exc) as info:
        await collect(azure(fake_upstream))
    assert info.value.status_code == status
    assert info.value.code == code
    if status == 401:
        assert "Access denied due to invalid subscription key" in info.value.message


async def test_rate_limit_headers(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply.rate_limited(2.5))
    with pytest.raises(openai.RateLimitError) as info:
        await collect(plain(fake_upstream))
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.response.headers["retry-after-ms"] == "2500"
    assert "retry after 2.5 seconds" in info.value.message


async def test_prompt_content_filter_400(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply.content_filter("hate", "sexual"))
    with pytest.raises(openai.BadRequestError) as info:
        await collect(azure(fake_upstream))
    assert info.value.code == "content_filter"
    result = info.value.body["innererror"]["content_filter_result"]
    assert {k for k, v in result.items() if v["filtered"]} == {"hate", "sexual"}


async def test_async_content_filter_stop(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="one two three four five", filter_after=2))
    chunks = await collect(azure(fake_upstream))
    stop = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert stop.object == "" and stop.choices[0].delta is None
    assert stop.choices[0].finish_reason == "content_filter"
    assert stop.choices[0].model_extra["content_filter_results"]["violence"]["filtered"] is True
    assert text_of(chunks) == "one two"
    assert fake_upstream.requests[0].chunks_sent == 2 and fake_upstream.requests[0].done_sent


async def test_mid_stream_drop(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="one two three four", drop_after=2))
    got: list[Any] = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        stream = await plain(fake_upstream).chat.completions.create(model="m", messages=MSGS, stream=True)
        async for c in stream:
            got.append(c)
    assert text_of(got) == "one two"
    req = await fake_upstream.wait_for_end_async(1)
    assert req.chunks_sent == 2 and not req.done_sent


async def test_malformed_chunk(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="one two", malformed_after=1))
    with pytest.raises(json.JSONDecodeError):
        await collect(plain(fake_upstream))


async def test_in_stream_error_event(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="one two", error_after=1))
    with pytest.raises(openai.APIError, match="server had an error"):
        await collect(plain(fake_upstream))


async def test_closing_the_stream_is_seen_within_200ms(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="w " * 200, interval=0.02))
    stream = await plain(fake_upstream).chat.completions.create(model="m", messages=MSGS, stream=True)
    n = 0
    async for _ in stream:
        n += 1
        if n == 5:
            break
    closed = time.monotonic()
    await stream.close()
    req = await fake_upstream.wait_for_end_async(1, timeout=5)
    assert req.disconnected_at is not None and req.disconnected_at - closed < 0.2
    assert 3 <= req.chunks_sent < 50 and not req.done_sent


async def test_stall_until_client_leaves(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="one two three", stall_after=1))
    client = plain(fake_upstream, timeout=0.5)
    with pytest.raises((httpx.ReadTimeout, openai.APITimeoutError)):
        await collect(client)
    req = await fake_upstream.wait_for_end_async(1, timeout=5)
    assert req.chunks_sent == 1 and req.disconnected_at is not None and not req.done_sent


async def test_hold_until_released(fake_upstream: FakeUpstream) -> None:
    gate = threading.Event()
    fake_upstream.enqueue(Reply(text="late", hold=gate))
    stream = await plain(fake_upstream).chat.completions.create(model="m", messages=MSGS, stream=True)
    it = aiter(stream)
    assert (await anext(it)).choices == []  # prompt filter results arrive before the hold
    req = fake_upstream.requests[0]
    assert req.chunks_sent == 0
    gate.set()
    rest = [c async for c in it]
    assert text_of(rest) == "late" and req.first_chunk_at is not None


async def test_plain_openai_format(fake_upstream: FakeUpstream) -> None:
    fake_upstream.enqueue(Reply(text="hi", azure=False))
    chunks = await collect(plain(fake_upstream))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "content_filter_results" not in (chunks[1].choices[0].model_extra or {})


async def test_entra_token_via_fake_credential(fake_upstream: FakeUpstream) -> None:
    cred = ok_credential()
    client = azure(fake_upstream, api_key=None, azure_ad_token_provider=get_bearer_token_provider(cred, SCOPE))
    await collect(client)
    assert fake_upstream.requests[0].headers["authorization"] == "Bearer fake-entra-token"
    assert "api-key" not in fake_upstream.requests[0].headers
    assert cred.calls == [(SCOPE,)]
    with pytest.raises(ClientAuthenticationError, match="DefaultAzureCredential failed"):
        await failing_credential().get_token(SCOPE)


def test_wait_for_request_is_bounded(fake_upstream: FakeUpstream) -> None:
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        fake_upstream.wait_for_request(1, timeout=0.2)
    assert time.monotonic() - t0 < 1


def test_default_text_quotes_last_user_message() -> None:
    body = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "x"},
                         {"role": "user", "content": [{"type": "text", "text": "b"}]}]}
    assert default_text(body) == "You said: *b*\n\n- one\n- two"


@given(st.text())
def test_tokenize_round_trips(text: str) -> None:
    assert "".join(tokenize(text)) == text
