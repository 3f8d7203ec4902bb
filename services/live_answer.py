"""What every reader of a running answer sees, wherever the answer runs: its ids, its publisher,
how it ended, and notices about its final row.

A `Generation` (services/generation.py) is one running here; a `RemoteAnswer`
(services/remote_answer.py) is one another instance runs, read from its Redis Stream. Pages and
API streams (services/events.py) cannot tell them apart.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable

from services.chunks import Ending
from services.models import Status
from services.publisher import BatchingPublisher

log = logging.getLogger(__name__)

# A retry reuses the message id: the run tells its runs apart. Random per process, so the runs of
# several instances (services/cluster.py) never collide either.
_RUNS = itertools.count(secrets.randbits(40) << 12)


class LiveAnswer(ABC):
    """An answer still in the hub: running, or ended with its final row not yet written."""

    def __init__(
        self,
        *,
        owner: str,
        conversation_id: str,
        message_id: int,
        publisher: BatchingPublisher,
        run: int | None = None,
        started_at: float,
    ) -> None:
        self.owner = owner
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.run = next(_RUNS) if run is None else run
        self.publisher = publisher
        self.started_at = started_at  # epoch seconds
        self.first_token_at: float | None = None
        self.ended_at: float | None = None
        self.ending: Ending | None = None  # how the model ended the answer, once it did
        self.saved: bool | None = None  # None until the first attempt at the final row
        self.settled: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # final row written
        self._save_watchers: list[Callable[[bool], None]] = []

    @property
    def done(self) -> bool:
        return self.publisher.final

    @abstractmethod
    def stop(self, status: Status = Status.STOPPED) -> None:
        """Ends the answer as `status`, closing the upstream response wherever it is read."""

    @property
    def ttft_ms(self) -> int | None:
        """From the request to the first token; None if no token came."""
        return None if self.first_token_at is None else int((self.first_token_at - self.started_at) * 1000)

    @property
    def duration_ms(self) -> int | None:
        """From the request to the end (with the time to first token: tokens/s takes that off)."""
        return None if self.ended_at is None else int((self.ended_at - self.started_at) * 1000)

    def watch_saved(self, callback: Callable[[bool], None]) -> Callable[[], None]:
        """Told True/False after each attempt at the final row; returns the unwatch function."""
        self._save_watchers.append(callback)
        return lambda: self._save_watchers.remove(callback) if callback in self._save_watchers else None

    def _tell_saved(self, saved: bool) -> None:
        if self.saved is saved:
            return
        self.saved = saved
        for callback in list(self._save_watchers):
            try:
                callback(saved)
            except Exception:  # a broken page must not stop the saving
                log.exception("save watcher failed; dropping it")
                self._save_watchers.remove(callback)

    def _settle(self) -> None:
        if not self.settled.done():
            self.settled.set_result(None)
