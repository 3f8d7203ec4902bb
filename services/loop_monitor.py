"""Event-loop lag monitor: how late the loop runs a 10 ms timer, and who blocked it.

The app runs on uvloop, where asyncio's debug mode (slow-callback warnings) does not exist, and a
probe from outside cannot tell a blocked loop from a starved process. A heartbeat task sleeps 10 ms
and records how late it woke: counts per lag bucket, for `/api/stats` and the stall benchmark.
With a threshold set (LOOP_STALL_LOG_MS), a watchdog thread also notices a heartbeat that is late
by more than that *while* the loop is still blocked, and logs the loop thread's stack, which names
the culprit; the heartbeat then logs how long the stall lasted. Garbage collections are timed
too (a stack cannot show them): their count and total time in the stats, a long one in the log.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)

TICK_S = 0.010
# Upper bounds (ms) of the lag buckets; a lag above the last one counts in "over_ms" only.
BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000)


class LoopMonitor:
    """Start it on the loop it watches (`start`), stop it on shutdown; `stats()` is counts only."""

    def __init__(self, stall_log_ms: int = 0) -> None:
        self.stall_log_s = stall_log_ms / 1000
        self.ticks = 0
        self.worst_ms = 0.0
        self.over_ms = dict.fromkeys(BUCKETS_MS, 0)  # bucket bound → ticks later than it
        self._task: asyncio.Task[None] | None = None
        self._watchdog: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop_thread = 0
        self._due = 0.0  # monotonic time the heartbeat should wake by; 0 while not sleeping
        self._reported_due = 0.0  # the watchdog logs each late heartbeat once
        self.gc_runs = 0
        self.gc_ms = 0.0
        self._gc_start = 0.0

    def start(self) -> None:
        self._loop_thread = threading.get_ident()
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self._beat(), name="loop-monitor")
        gc.callbacks.append(self._on_gc)
        if self.stall_log_s > 0:
            self._watchdog = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
            self._watchdog.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._watchdog is not None:
            await asyncio.to_thread(self._watchdog.join, 1.0)

    def stats(self) -> dict[str, object]:
        """Ticks, the worst lag, and per bucket bound how many ticks were later than it."""
        return {
            "ticks": self.ticks,
            "worst_ms": round(self.worst_ms),
            "over_ms": {str(bound): n for bound, n in self.over_ms.items()},
            "gc_runs": self.gc_runs,
            "gc_ms": round(self.gc_ms),
        }

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
            return
        took = (time.perf_counter() - self._gc_start) * 1000
        self.gc_runs += 1
        self.gc_ms += took
        if self.stall_log_s and took > self.stall_log_s * 1000:
            log.warning("garbage collection of generation %d took %.0f ms", info["generation"], took)

    async def _beat(self) -> None:
        while True:
            self._due = time.monotonic() + TICK_S
            await asyncio.sleep(TICK_S)
            lag = time.monotonic() - self._due
            self._due = 0.0
            self._record(lag * 1000)
            if self.stall_log_s and lag > self.stall_log_s:
                log.warning("event loop was blocked for %.0f ms", lag * 1000)

    def _record(self, lag_ms: float) -> None:
        self.ticks += 1
        self.worst_ms = max(self.worst_ms, lag_ms)
        for bound in BUCKETS_MS:
            if lag_ms <= bound:
                break
            self.over_ms[bound] += 1

    def _watch(self) -> None:
        """Checks a few times per threshold; reads `_due` without a lock (a float, written whole)."""
        every = max(0.005, self.stall_log_s / 4)
        while not self._stop.wait(every):
            due = self._due
            late = time.monotonic() - due
            if due and late > self.stall_log_s and due != self._reported_due:
                self._reported_due = due
                log.warning("event loop blocked for %.0f ms so far, in:\n%s", late * 1000, self._loop_stack())

    def _loop_stack(self) -> str:
        frame = sys._current_frames().get(self._loop_thread)
        return "".join(traceback.format_stack(frame)).rstrip() if frame is not None else "(no stack)"
