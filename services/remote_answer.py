"""An answer another instance generates, followed through its Redis Stream (services/answer_stream.py).

`catch_up` reads every entry so far (the snapshot); `follow_on` then blocks on the entries after the
last one read, so a reader gets each entry exactly once and in order, with nothing between the two.
Its publisher re-publishes at once (the owner already batched), so pages and API streams follow it
exactly as they follow a local `Generation`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.answer_stream import apply, stream_key
from services.events import Started
from services.live_answer import LiveAnswer
from services.models import Status
from services.publisher import BatchingPublisher

READ_BLOCK_MS = 1000
READ_COUNT = 1000
PAUSED = "Live view paused: the shared event store (Redis) cannot be reached. The answer goes on and is saved."


@dataclass(frozen=True)
class Running:
    """An answer running somewhere, as the cluster's registry has it."""

    instance: str
    owner: str
    conversation_id: str
    message_id: int
    run: int
    started_at: float

    @property
    def started(self) -> Started:
        return Started(self.message_id, self.conversation_id, self.run)


StopRequest = Callable[[Running, Status], None]


class RemoteAnswer(LiveAnswer):
    """A reader's copy of an answer running on another instance; Stop asks that instance to stop it."""

    def __init__(self, running: Running, redis: Redis, request_stop: StopRequest, max_follow_s: float) -> None:
        super().__init__(
            owner=running.owner,
            conversation_id=running.conversation_id,
            message_id=running.message_id,
            publisher=BatchingPublisher(0),
            run=running.run,
            started_at=running.started_at,
        )
        self.running = running
        self._redis = redis
        self._key = stream_key(running.message_id, running.run)
        self._last = "0-0"
        self._request_stop = request_stop
        self._max_follow_s = max_follow_s  # the owner's answer ends within MAX_GENERATION_S, its reaping soon after
        self.task: asyncio.Task[None] | None = None

    def stop(self, status: Status = Status.STOPPED) -> None:
        if not self.done:
            self._request_stop(self.running, status)

    async def catch_up(self) -> None:
        """Everything written so far. Raises RedisError when Redis cannot be reached."""
        for entry_id, fields in await self._redis.xrange(self._key, min="-", max="+"):
            self._apply(entry_id, fields)

    def follow_on(self, on_settled: Callable[[RemoteAnswer], None]) -> None:
        self.task = asyncio.get_running_loop().create_task(self._read(), name=f"remote-answer-{self.message_id}")
        self.settled.add_done_callback(lambda _f: on_settled(self))

    def close(self) -> None:
        """This instance is shutting down: stop reading (the answer goes on where it runs)."""
        if self.task is not None:
            self.task.cancel()
        self._settle()

    def _apply(self, entry_id: str, fields: dict[str, str]) -> None:
        self._last = entry_id
        if fields.get("k") == "s":
            self._tell_saved(fields.get("ok") == "1")
            if self.saved:
                self._settle()
        else:
            apply(self, fields)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._max_follow_s
        paused = False
        try:
            while not self.settled.done() and loop.time() < deadline:
                try:
                    found = await self._redis.xread({self._key: self._last}, count=READ_COUNT, block=READ_BLOCK_MS)
                except (RedisError, OSError):
                    if not paused and not self.done:
                        self.publisher.set_phase(self.publisher.phase, PAUSED)
                    paused = True
                    await asyncio.sleep(1.0)
                    continue
                if paused and not self.done:
                    self.publisher.set_phase(self.publisher.phase)
                paused = False
                for _key, entries in found or ():
                    for entry_id, fields in entries:
                        self._apply(entry_id, fields)
        finally:
            self._settle()  # ended, or followed for as long as it could run: the hub lets it go
