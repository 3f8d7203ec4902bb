"""Backend.stream against the fake upstream over real HTTP: the one seam all provider talk goes through."""

from __future__ import annotations

import pytest

from services.chunks import Ending
from services.llm import ACCEPTED, Part, local_backend, openai_backend
from services.settings import Settings
from tests.fake_upstream import FakeUpstream, Reply


def backend_for(fake: FakeUpstream):
    settings = Settings(_env_file=None, openai_base_url=f"{fake.url}/v1", openai_api_key="k", openai_model="m")
    return openai_backend(settings)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_an_answer_is_accepted_then_its_text_then_how_it_ended(fake_upstream: FakeUpstream, stream: bool) -> None:
    fake_upstream.enqueue(Reply(text="Hello there, **world**."))
    backend = backend_for(fake_upstream)
    parts: list[Part] = [part async for part in backend.stream([{"role": "user", "content": "hi"}], stream)]
    await backend.aclose()
    assert parts[0] is ACCEPTED
    assert "".join(p for p in parts[1:-1] if isinstance(p, str)) == "Hello there, **world**."
    ending = parts[-1]
    assert isinstance(ending, Ending) and ending.finish_reason == "stop" and ending.completion_tokens
    assert fake_upstream.requests[0].stream is stream


async def test_a_gzip_encoded_event_stream_is_read_as_text(fake_upstream: FakeUpstream) -> None:
    """The body is read straight from aiohttp only when there is nothing to decode: a proxy that
    gzips the stream must still give the answer's text, not compressed bytes."""
    fake_upstream.enqueue(Reply(text="Squeezed, but *whole*.", gzip=True))
    backend = backend_for(fake_upstream)
    parts = [part async for part in backend.stream([{"role": "user", "content": "hi"}], True)]
    await backend.aclose()
    assert "".join(p for p in parts if isinstance(p, str)) == "Squeezed, but *whole*."
    assert isinstance(parts[-1], Ending) and parts[-1].finish_reason == "stop"


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
async def test_a_pause_mid_stream_longer_than_the_sdks_read_timeout_is_not_a_dropped_connection(
    fake_upstream: FakeUpstream, gzip: bool
) -> None:
    """How long a stream may pause is IDLE_TIMEOUT_S's to say (the generation's watchdog), not the
    SDK's read timeout: a model that thinks for a minute mid-answer was cut as "connection dropped".
    Also when a proxy gzips the stream (then httpx decodes it)."""
    fake_upstream.enqueue(Reply(text="Slow but whole.", gzip=gzip).tokens_per_second(2))  # 0.5 s between chunks
    backend = backend_for(fake_upstream)
    backend.client = backend.client.with_options(timeout=0.25)
    parts = [part async for part in backend.stream([{"role": "user", "content": "hi"}], True)]
    await backend.aclose()
    assert "".join(p for p in parts if isinstance(p, str)) == "Slow but whole."


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_the_prompt_and_the_backends_own_extra_fields_reach_the_model_as_given(
    fake_upstream: FakeUpstream, stream: bool
) -> None:
    """The prompt travels past the SDK's per-message transform: every message must still arrive, in
    order and unchanged, next to the embedded model's sampling options and a send's overrides."""
    fake_upstream.enqueue(Reply(text="ok"))
    prompt = [{"role": "system", "content": "Be brief."}]
    prompt += [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} ✓ \"quoted\""} for i in range(9)]
    backend = local_backend(f"{fake_upstream.url}", "k", "tiny", max_tokens=64, slot_ctx=2048)
    parts = [part async for part in backend.stream(prompt, stream, {"temperature": 0.9})]
    await backend.aclose()
    assert parts[0] is ACCEPTED and isinstance(parts[-1], Ending)
    body = fake_upstream.requests[0].body
    assert body["messages"] == prompt
    assert body["repeat_penalty"] == 1.15 and body["max_tokens"] == 64 and body["temperature"] == 0.9
    assert body["model"] == "tiny" and "extra_body" not in body
