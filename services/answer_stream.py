"""One answer's events in a Redis Stream, so a tab or an API reader on another instance can follow it.

The instance that generates an answer writes each publisher event (a batch of text, a phase, the
end) as one entry, in order, plus a `saved` entry after each attempt at the final row. The
publisher already batches, so this is at most one entry per flush interval, and entries waiting
while a round trip is in flight go in the next one, pipelined: no round trip per token.

Entry fields (all strings): `k` is the kind. `d`: text `t`. `p`: phase `p`, detail `d`, countdown
`n`. `e`: the end, status `s`, note `d`, and `x`, JSON with how the model ended it and when. `s`:
final row written, `ok` "1" or "0". A stream is trimmed to `MAXLEN` entries (an answer within
MAX_GENERATION_S at FLUSH_INTERVAL_MS never reaches it) and expires `KEEP_S` after the answer ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.chunks import Ending
from services.live_answer import LiveAnswer
from services.models import Phase, Status
from services.publisher import Event

log = logging.getLogger(__name__)

PREFIX = "streamchat:"
MAXLEN = 50_000
KEEP_S = 3600
DRAIN_S = 2.0  # at shutdown, how long entries still queued may take to reach Redis

Fields = dict[str, str]


def stream_key(message_id: int, run: int) -> str:
    """One stream per run: a retry on another instance reuses the message id, never the old entries."""
    return f"{PREFIX}answer:{message_id}:{run}"


def encode(answer: LiveAnswer, event: Event) -> Fields:
    if event.delta:
        return {"k": "d", "t": event.delta}
    if event.status is not None:
        return {"k": "e", "s": str(event.status), "d": event.detail, "x": _ending_json(answer)}
    seconds = "" if event.seconds is None else str(event.seconds)
    return {"k": "p", "p": str(event.phase), "d": event.detail, "n": seconds}


def _ending_json(answer: LiveAnswer) -> str:
    ending = answer.ending or Ending()
    facts = {
        "finish_reason": ending.finish_reason,
        "prompt_tokens": ending.prompt_tokens,
        "completion_tokens": ending.completion_tokens,
        "first_token_at": answer.first_token_at,
        "ended_at": answer.ended_at,
    }
    return orjson.dumps(facts).decode()


def apply(answer: LiveAnswer, fields: Fields) -> None:
    """Replays one entry onto a reader's copy of the answer (see services/remote_answer.py)."""
    kind = fields.get("k")
    if kind == "d":
        answer.publisher.add(fields["t"])
    elif kind == "p":
        seconds = fields.get("n") or None
        answer.publisher.set_phase(Phase(fields["p"]), fields.get("d", ""), int(seconds) if seconds else None)
    elif kind == "e":
        facts = orjson.loads(fields.get("x") or "{}")
        tokens = facts.get("prompt_tokens"), facts.get("completion_tokens")
        answer.ending = Ending(facts.get("finish_reason") or "", *tokens)
        answer.first_token_at, answer.ended_at = facts.get("first_token_at"), facts.get("ended_at")
        answer.publisher.close(Status(fields["s"]), fields.get("d", ""))


def ended_entries(status: Status, note: str) -> list[Fields]:
    """What a reaper writes for an answer whose instance died: its end, and its row already written."""
    return [{"k": "e", "s": str(status), "d": note, "x": "{}"}, {"k": "s", "ok": "1"}]


class AnswerWriter:
    """Owner side: forwards one answer's events to its stream, in order, a pipeline per round trip.

    Redis being down does not touch the answer: it goes on, is saved, and entries that cannot be
    written are dropped with one warning (readers elsewhere say their live view paused)."""

    def __init__(self, redis: Redis, answer: LiveAnswer, on_finished: Any) -> None:
        self._redis = redis
        self._answer = answer
        self._key = stream_key(answer.message_id, answer.run)
        self._queue: list[Fields] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._failed = False
        self._on_finished = on_finished  # called once the final `saved` entry is written (or given up)
        self.task = asyncio.get_running_loop().create_task(self._pump(), name=f"answer-stream-{answer.message_id}")

    def on_event(self, event: Event) -> None:
        self._put(encode(self._answer, event))

    def on_saved(self, saved: bool) -> None:
        self._put({"k": "s", "ok": "1" if saved else "0"})
        if saved:
            self._closed = True

    def _put(self, fields: Fields) -> None:
        self._queue.append(fields)
        self._wake.set()

    async def _pump(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                batch, self._queue = self._queue, []
                await self._write(batch)
                if self._closed and not self._queue:
                    return
        finally:
            self._on_finished(self._answer)

    async def _write(self, batch: list[Fields]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for fields in batch:
            pipe.xadd(self._key, fields, maxlen=MAXLEN, approximate=True)  # type: ignore[arg-type]
        if self._closed:
            pipe.expire(self._key, KEEP_S)
        try:
            await pipe.execute()
            self._failed = False
        except (RedisError, OSError) as exc:
            if not self._failed:
                log.warning("answer %s: live events not shared (Redis: %s)", self._answer.message_id, exc)
            self._failed = True

    async def drain(self) -> None:
        """At shutdown: give queued entries a moment to reach Redis."""
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(DRAIN_S):
                await asyncio.shield(self.task)
