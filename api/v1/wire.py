"""An answer's events on the wire: SSE (`event:` names, `id: <offset>` on deltas) or NDJSON (`type`).

Both carry the same objects. While nothing happens for a while, SSE gets a comment line, so proxies
that cut idle connections leave a long wait for the first token alone (NDJSON has no comments).
"""

from __future__ import annotations

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


async def encode(
    first: dict[str, Any], events: AsyncIterator[AnswerEvent | None], media_type: str
) -> AsyncIterator[bytes]:
    """`first` (the `message` object), then every event, until `done`; None (the events said nothing
    for `PING_EVERY_S`, see `ChatService.subscribe`) is a keep-alive comment."""
    sse = media_type == SSE
    yield _frame(first, sse)
    async with contextlib.aclosing(events):  # type: ignore[type-var]  (a client that leaves unsubscribes at once)
        async for event in events:
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


async def until_done(events: AsyncIterator[AnswerEvent | None]) -> tuple[str, Done]:
    """The whole text and the end, for callers that want one response."""
    parts: list[str] = []
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        async for event in events:
            if isinstance(event, Snapshot | Delta):
                parts.append(event.text)
            elif isinstance(event, Done):
                return "".join(parts), event
    raise RuntimeError("the answer's events ended without `done`")
