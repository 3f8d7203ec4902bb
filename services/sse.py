"""The model's streamed chunks, read straight from the HTTP body as plain dicts.

The SDK builds a typed object per chunk (SSE decoder, then pydantic model construction), about
ten times what a `json.loads` costs; at thousands of chunks a second that alone fell seconds behind
the model. The SDK still makes the request (auth, headers, status errors); we read the body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import orjson

from services.errors import MalformedChunk

DONE = b"[DONE]"
AIOHTTP_BODY = "streamchat.aiohttp_body"  # response extension: the aiohttp response, to read the body from
STREAM_ERROR = "An error occurred during streaming"


async def sse_data(blocks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The `data` of each complete event; other fields (event, id, retry) and comments are not used by chat."""
    partial: list[bytes] = []
    data: list[bytes] = []
    async for block in blocks:
        if b"\n" not in block:
            partial.append(block)
            continue
        partial.append(block)
        lines = b"".join(partial).split(b"\n")
        partial = [lines.pop()]
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if data:
                    yield b"\n".join(data)
                    data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(b" ") else value)
    # An event the body ends inside is dropped, as the SSE spec says: it may be cut-off JSON, and
    # without its `[DONE]` the answer is reported as dropped anyway.


def _loads(data: bytes) -> Any:
    """orjson: a fifth of `json.loads`'s time per Azure-shaped chunk (6 vs 32 µs here). It refuses bad
    UTF-8 and lone surrogates ("\\ud800"), which a model can send and we show: those go the slow way."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8", "replace"))


def body_blocks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives: straight from aiohttp when the transport left its response in
    `AIOHTTP_BODY` and there is nothing to decode. httpx's layers over it (a bound stream, the
    transport's, raw and decoded iterators, a chunker) were ~8 % of reading a chunk (101 -> 93 µs,
    measured with a variant of bench/upstream_read.py: bench/LOAD.md, "Session 7").

    Once the stream has begun, how long it may stay silent is the generation's idle timeout
    (`IDLE_TIMEOUT_S`) alone: the SDK's read timeout (60 s for Azure) cut a longer pause as a dropped
    connection, and aiohttp re-armed a timer for it on every chunk."""
    raw = response.extensions.get(AIOHTTP_BODY)
    if raw is not None and raw.connection is not None:
        raw.connection.protocol.read_timeout = None
        raw.connection.protocol.start_timeout()  # drops the timer armed by the last read
    if raw is None or response.headers.get("content-encoding", "identity").lower() != "identity":
        return response.aiter_bytes()
    return raw.content.iter_any()


async def chat_chunks(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Each chunk as a dict, up to `[DONE]`; an in-stream error event raises `openai.APIError`."""
    async for data in sse_data(body_blocks(response)):
        if data == DONE:
            return
        try:
            chunk = _loads(data)
        except ValueError as exc:
            raise MalformedChunk() from exc
        if not isinstance(chunk, dict):
            raise MalformedChunk()
        error = chunk.get("error")
        if error:
            message = error.get("message") if isinstance(error, dict) else None
            raise openai.APIError(
                message if isinstance(message, str) and message else STREAM_ERROR, response.request, body=error
            )
        yield chunk
