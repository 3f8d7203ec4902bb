"""The loop monitor counts late heartbeats and, with a threshold, names what blocked the loop."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import pytest

from services.loop_monitor import LoopMonitor


def deliberately_blocking_callback() -> None:
    time.sleep(0.3)  # the loop can run nothing else meanwhile


async def run_blocking(monitor: LoopMonitor) -> None:
    monitor.start()
    try:
        while monitor.ticks < 3:  # heartbeat running
            await asyncio.sleep(0.005)
        asyncio.get_running_loop().call_soon(deliberately_blocking_callback)
        before = monitor.ticks
        while monitor.ticks < before + 3:  # it woke (late) after the block, and ran on
            await asyncio.sleep(0.005)
    finally:
        await monitor.stop()


def test_blocking_callback_is_reported_with_its_stack(caplog: pytest.LogCaptureFixture) -> None:
    monitor = LoopMonitor(stall_log_ms=100)
    with caplog.at_level(logging.WARNING, logger="services.loop_monitor"):
        asyncio.run(run_blocking(monitor))
    during = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert len(during) == 1, caplog.text
    assert "deliberately_blocking_callback" in during[0]
    assert "time.sleep(0.3)" in during[0]
    after = [r.getMessage() for r in caplog.records if "was blocked for" in r.getMessage()]
    assert len(after) == 1 and 290 <= int(after[0].split()[-2]) < 1000, after
    stats = monitor.stats()
    assert stats["over_ms"]["200"] == 1 and stats["over_ms"]["500"] == 0, stats
    assert 290 <= stats["worst_ms"] < 1000


def test_off_by_default_counts_but_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    monitor = LoopMonitor()
    with caplog.at_level(logging.WARNING, logger="services.loop_monitor"):
        asyncio.run(run_blocking(monitor))
    assert caplog.records == []
    assert monitor.stats()["over_ms"]["200"] == 1


def test_garbage_collections_are_timed() -> None:
    async def collect(monitor: LoopMonitor) -> None:
        monitor.start()
        gc.collect()
        await monitor.stop()

    monitor = LoopMonitor()
    asyncio.run(collect(monitor))
    runs = monitor.stats()["gc_runs"]
    assert runs >= 1
    gc.collect()  # after stop: not counted
    assert monitor.stats()["gc_runs"] == runs
