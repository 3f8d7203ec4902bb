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


class _End:
    """The events ended (`error` set if they raised)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error


async def with_pings(events: AsyncIterator[AnswerEvent], every: float) -> AsyncIterator[AnswerEvent | None]:
    """The events, and None after each `every` seconds without one.

    One task reads the events into a queue and one timer per stream looks for silence. (A task and an
    `asyncio.wait` per event cost ~25 µs each at thousands of events a second; a timeout may never
    cancel the read itself, as that would end the subscription.)"""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[AnswerEvent | _End | None] = asyncio.Queue()
    last = loop.time()

    async def pump() -> None:
        try:
            async for event in events:
                queue.put_nowait(event)
        except Exception as exc:
            queue.put_nowait(_End(exc))
        else:
            queue.put_nowait(_End())

    def tick() -> None:
        nonlocal timer
        quiet_since = loop.time() - last
        if quiet_since >= every:
            queue.put_nowait(None)
        timer = loop.call_later(every - quiet_since if quiet_since < every else every, tick)

    reader = asyncio.create_task(pump())
    timer = loop.call_later(every, tick)
    try:
        while not isinstance(item := await queue.get(), _End):
            if item is not None:
                last = loop.time()
            yield item
        if item.error is not None:
            raise item.error
    finally:
        timer.cancel()
        reader.cancel()  # unless it ended: the subscription's own cleanup runs as it is cancelled


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
