"""Batching lives here and only here: the first token goes out at once, then at most one flush
per interval, and a final flush at the end. Subscribers come and go without losing or doubling text.

The interval counts from the *end* of a flush (after every subscriber ran): counted from its start,
subscribers slower than the interval made every new token flush at once, one flush per chunk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from services.models import Phase, Status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """One message to subscribers: new text, a phase change, or the end (a final `status`).

    `detail` says more about the phase ("retrying in 3 s") or the end (the error, a note); `seconds`
    is a countdown's number (a retry's wait), so readers need not parse it out of the detail."""

    delta: str = ""
    phase: Phase | None = None
    status: Status | None = None
    detail: str = ""
    seconds: int | None = None

    @property
    def final(self) -> bool:
        return self.status is not None


@dataclass(frozen=True)
class Snapshot:
    """What a late subscriber sees first: everything published so far; `status` once it ended."""

    text: str
    phase: Phase
    status: Status | None
    detail: str
    seconds: int | None = None

    @property
    def final(self) -> bool:
        return self.status is not None


Subscriber = Callable[[Event], None]


class BatchingPublisher:
    """Coalesces tokens into at most one delta per `interval_s` and fans them out to subscribers."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.text = ""  # published text: every subscriber has seen exactly this (snapshot + deltas)
        self.phase = Phase.CONNECTING
        self.status: Status | None = None  # set once, by close()
        self.detail = ""
        self.seconds: int | None = None  # of the current phase's countdown
        self.flushes = 0
        self._pending: list[str] = []
        self._last_flush = -1e9
        self._timer: asyncio.TimerHandle | None = None
        self._subscribers: list[Subscriber] = []

    @property
    def final(self) -> bool:
        """Closed: no more text, and every subscriber was told the status."""
        return self.status is not None

    @property
    def full_text(self) -> str:
        """Published plus not yet flushed: what the database should hold."""
        return self.text + "".join(self._pending)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self, callback: Subscriber) -> tuple[Snapshot, Callable[[], None]]:
        """Snapshot and registration happen in one step, so no delta falls between them."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return Snapshot(self.text, self.phase, self.status, self.detail, self.seconds), unsubscribe

    def add(self, token: str) -> None:
        if not token or self.final:
            return
        self._pending.append(token)
        if self._timer is not None:
            return
        wait = self._last_flush + self.interval_s - asyncio.get_running_loop().time()
        if wait <= 0:
            self.flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        delta = "".join(self._pending)
        self._pending.clear()
        self.text += delta
        self.flushes += 1
        self._emit(Event(delta=delta))
        self._last_flush = asyncio.get_running_loop().time()

    def set_phase(self, phase: Phase, detail: str = "", seconds: int | None = None) -> None:
        """Text already received goes out before the phase that follows it."""
        self.flush()
        self.phase, self.detail, self.seconds = phase, detail, seconds
        self._emit(Event(phase=phase, detail=detail, seconds=seconds))

    def close(self, status: Status, detail: str = "") -> None:
        """The final flush plus the final status; later subscribers get a final snapshot."""
        self.flush()
        self.status, self.detail, self.seconds = status, detail, None
        self._emit(Event(status=status, detail=detail))
        self._subscribers.clear()

    def _emit(self, event: Event) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a broken page must not stop the answer for everyone else
                log.exception("subscriber failed; dropping it")
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
