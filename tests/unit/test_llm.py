"""Backend.stream against the fake upstream over real HTTP: the one seam all provider talk goes through."""

from __future__ import annotations

import pytest

from services.chunks import Ending
from services.llm import ACCEPTED, Part, openai_backend
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
