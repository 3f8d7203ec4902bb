"""The raw SSE reader must give the same events however the network splits the bytes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hypothesis import given, settings
from hypothesis import strategies as st

from services.sse import sse_data

STREAM = (
    b": keep-alive comment\n\n"
    b'data: {"choices":[],"prompt_filter_results":[]}\n\n'
    b'data: {"choices":[{"delta":{"content":"h\\u00e9llo \xe2\x9c\x93"}}]}\r\n\r\n'
    b"event: message\nid: 7\ndata:no-space\n\n"
    b"data: first line\ndata: second line\n\n"
    b"retry: 1000\n\n"
    b"data: [DONE]\n\n"
)
EVENTS = [
    b'{"choices":[],"prompt_filter_results":[]}',
    b'{"choices":[{"delta":{"content":"h\\u00e9llo \xe2\x9c\x93"}}]}',
    b"no-space",
    b"first line\nsecond line",
    b"[DONE]",
]


async def _blocks(data: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        if cut > start:
            yield data[start:cut]
            start = cut


def _read(data: bytes, cuts: list[int]) -> list[bytes]:
    async def collect() -> list[bytes]:
        return [event async for event in sse_data(_blocks(data, cuts))]

    return asyncio.run(collect())


def test_events_in_one_block() -> None:
    assert _read(STREAM, []) == EVENTS


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=40))
def test_any_split_of_the_bytes_gives_the_same_events(cuts: list[int]) -> None:
    assert _read(STREAM, cuts) == EVENTS


def test_an_event_the_body_ends_inside_is_not_given() -> None:
    assert _read(b'data: a\n\ndata: {"cho', [3]) == [b"a"]
    assert _read(b"data: a\n\ndata: b\n", [3]) == [b"a"]
