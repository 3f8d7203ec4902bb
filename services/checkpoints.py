"""One writer for the checkpoints of every running answer: a crash loses at most a tick of text.

Each answer writing its own row once a second was, at 100 answers, 100 ORM round trips a second
through the small thread pool, in front of every send's rows. Here one task wakes once per tick and
writes every answer that grew since its last write in one transaction (`Store.checkpoint_messages`).
While the database fails, the tick backs off and the text stays in memory (the publisher has it);
the final row is each generation's own write, retried until it lands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from services.errors import storage_reason
from services.store import Store

log = logging.getLogger(__name__)

SAVE_BACKOFF_MAX_S = 30.0  # while the database fails, writes are retried at least this often


@dataclass
class _Tracked:
    owner: str
    text: Callable[[], str]  # the answer's text so far
    saved: int = 0  # characters already written


class CheckpointWriter:
    """Tracks running answers and checkpoints them together, once per `interval_s`."""

    def __init__(self, store: Store, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self._tracked: dict[int, _Tracked] = {}
        self._task: asyncio.Task[None] | None = None

    def track(self, owner: str, message_id: int, text: Callable[[], str]) -> Callable[[], None]:
        """From now until the returned function is called, `text()` is checkpointed each tick.
        The writer runs only while something is tracked."""
        self._tracked[message_id] = entry = _Tracked(owner, text)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="checkpoints")

        def untrack() -> None:
            if self._tracked.get(message_id) is entry:
                del self._tracked[message_id]

        return untrack

    async def _loop(self) -> None:
        wait = self.interval_s
        while self._tracked:
            await asyncio.sleep(wait)
            due = [(mid, e, e.text()) for mid, e in self._tracked.items()]
            due = [(mid, e, text) for mid, e, text in due if len(text) > e.saved]
            try:
                await self.store.checkpoint_messages([(e.owner, mid, text) for mid, e, text in due])
            except Exception as exc:  # a write in flight when an answer ends is harmless: writes are conditional
                wait = min(wait * 2, SAVE_BACKOFF_MAX_S)
                why = storage_reason(exc)
                log.warning("checkpoint of %d answer(s) failed (%s); retrying in %g s", len(due), why, wait)
            else:
                wait = self.interval_s
                for _mid, e, text in due:
                    e.saved = len(text)
