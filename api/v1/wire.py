"""An answer's events on the wire: SSE (`event:` names, `id: <offset>` on deltas) or NDJSON (`type`).

Both carry the same objects. While nothing happens for a while, SSE gets a comment line, so proxies
that cut idle connections leave a long wait for the first token alone (NDJSON has no comments).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from services.events import AnswerEvent, Delta, Done, Snapshot, Status

PING_EVERY_S = 15.0
SSE = "text/event-stream"
NDJSON = "application/x-ndjson"
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def status_object(status: Status) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "status", "phase": status.phase}
    if status.seconds is not None:
        out["seconds"] = status.seconds
    if status.detail:
        out["detail"] = status.detail
    return out


def done_object(done: Done) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "done", "status": done.status}
    if done.error:
        out["error"] = done.error
    if done.usage is not None:
        out["usage"] = done.usage
    out["ttft_ms"] = done.ttft_ms
    out["duration_ms"] = done.duration_ms
    return out


def objects(event: AnswerEvent) -> list[dict[str, Any]]:
    """The wire objects of one event: a snapshot is its text (as a delta) and its status."""
    if isinstance(event, Snapshot):
        out = [{"type": "delta", "text": event.text, "offset": event.offset}] if event.text else []
        return out + ([status_object(event.status)] if event.status is not None else [])
    if isinstance(event, Delta):
        return [{"type": "delta", "text": event.text, "offset": event.offset}]
    if isinstance(event, Status):
        return [status_object(event)]
    return [done_object(event)]


async def with_pings(events: AsyncIterator[AnswerEvent], every: float) -> AsyncIterator[AnswerEvent | None]:
    """The events, and None after each `every` seconds without one. The next event is awaited in a
    task of its own and never cancelled by the timeout (that would end the subscription)."""
    pending: asyncio.Future[AnswerEvent] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield None
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                pending = None
                return
            pending = None
            yield event
    finally:
        if pending is not None:
            pending.cancel()  # the subscription's own cleanup runs as it is cancelled
        else:
            with contextlib.suppress(RuntimeError):
                await events.aclose()


async def encode(
    first: dict[str, Any], events: AsyncIterator[AnswerEvent], media_type: str, ping_every: float = PING_EVERY_S
) -> AsyncIterator[bytes]:
    """`first` (the `message` object), then every event, until `done`."""
    sse = media_type == SSE
    yield _frame(first, sse)
    async for event in with_pings(events, ping_every):
        if event is None:
            if sse:
                yield b": ping\n\n"
            continue
        for obj in objects(event):
            yield _frame(obj, sse)


def _frame(obj: dict[str, Any], sse: bool) -> bytes:
    if not sse:
        return (dumps(obj) + "\n").encode()
    data = dict(obj)
    kind = data.pop("type")
    head = ""
    if kind == "delta":
        head = f"id: {data.pop('offset')}\n"
    return f"{head}event: {kind}\ndata: {dumps(data)}\n\n".encode()


async def until_done(events: AsyncIterator[AnswerEvent]) -> tuple[str, Done]:
    """The whole text and the end, for callers that want one response."""
    parts: list[str] = []
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        async for event in events:
            if isinstance(event, Snapshot | Delta):
                parts.append(event.text)
            elif isinstance(event, Done):
                return "".join(parts), event
    raise RuntimeError("the answer's events ended without `done`")
