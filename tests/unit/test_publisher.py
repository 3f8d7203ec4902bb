"""The batching publisher: first token at once, coalescing, final flush, late subscribers."""

from __future__ import annotations

import asyncio
import itertools

from services.models import Phase, Status
from services.publisher import BatchingPublisher, Event


async def wait_until(predicate, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_first_token_goes_out_at_once() -> None:
    pub = BatchingPublisher(interval_s=10)
    events: list[Event] = []
    pub.subscribe(events.append)
    pub.add("Hel")
    assert [e.delta for e in events] == ["Hel"]


async def test_tokens_within_an_interval_are_coalesced_into_one_delta() -> None:
    pub = BatchingPublisher(interval_s=0.05)
    events: list[Event] = []
    pub.subscribe(events.append)
    pub.add("a")
    for token in ["b", "c", "d"]:
        pub.add(token)
    assert [e.delta for e in events] == ["a"]
    await wait_until(lambda: len(events) == 2)
    assert events[1].delta == "bcd"
    assert pub.flushes == 2


async def test_flushes_are_spaced_by_the_interval() -> None:
    pub = BatchingPublisher(interval_s=0.05)
    times: list[float] = []
    loop = asyncio.get_running_loop()
    pub.subscribe(lambda e: times.append(loop.time()))
    for _ in range(30):
        pub.add("x")
        await asyncio.sleep(0.005)
    pub.close(Status.DONE)
    gaps = [b - a for a, b in itertools.pairwise(times[:-2])]  # the close may flush early
    assert gaps and min(gaps) >= 0.045
    assert len(times) < 30


async def test_close_flushes_what_is_pending_then_reports_the_end() -> None:
    pub = BatchingPublisher(interval_s=10)
    events: list[Event] = []
    pub.subscribe(events.append)
    pub.add("one ")
    pub.add("two")
    pub.close(Status.DONE)
    assert [e.delta for e in events if e.delta] == ["one ", "two"]
    assert events[-1].final and events[-1].status == Status.DONE and events[-1].phase is None
    assert pub.text == "one two"
    assert pub.subscriber_count == 0


async def test_late_subscriber_gets_snapshot_then_only_new_deltas() -> None:
    pub = BatchingPublisher(interval_s=0)
    pub.add("first ")
    pub.add("second ")
    late: list[Event] = []
    snapshot, _unsub = pub.subscribe(late.append)
    pub.add("third")
    pub.close(Status.DONE)
    assert snapshot.text == "first second "
    assert snapshot.text + "".join(e.delta for e in late) == "first second third"


async def test_snapshot_excludes_pending_text_so_nothing_is_doubled() -> None:
    pub = BatchingPublisher(interval_s=10)
    pub.add("a")
    pub.add("b")  # pending, not yet published
    seen: list[Event] = []
    snapshot, _ = pub.subscribe(seen.append)
    pub.close(Status.DONE)
    assert snapshot.text == "a"
    assert snapshot.text + "".join(e.delta for e in seen) == "ab"


async def test_unsubscribed_and_failing_subscribers_stop_receiving() -> None:
    pub = BatchingPublisher(interval_s=0)
    kept: list[Event] = []
    dropped: list[Event] = []

    def broken(_e: Event) -> None:
        raise RuntimeError("page gone")

    pub.subscribe(kept.append)
    pub.subscribe(broken)
    _, unsubscribe = pub.subscribe(dropped.append)
    unsubscribe()
    pub.add("x")
    pub.add("y")
    assert [e.delta for e in kept] == ["x", "y"]
    assert dropped == []
    assert pub.subscriber_count == 1


async def test_phase_change_flushes_text_received_before_it() -> None:
    pub = BatchingPublisher(interval_s=10)
    events: list[Event] = []
    pub.subscribe(events.append)
    pub.add("a")
    pub.add("b")
    pub.set_phase(Phase.RETRYING, "Rate limited — retrying in 2 s")
    assert [(e.delta, e.phase) for e in events] == [("a", None), ("b", None), ("", Phase.RETRYING)]


async def test_interval_counts_from_the_end_of_a_slow_flush() -> None:
    """A subscriber slower than the interval must not turn every later token into its own flush."""
    pub = BatchingPublisher(interval_s=0.05)
    loop = asyncio.get_running_loop()
    ended: list[float] = []
    started: list[float] = []

    def slow(_e: Event) -> None:
        started.append(loop.time())
        deadline = loop.time() + 0.08  # a render that takes longer than the interval
        while loop.time() < deadline:
            pass
        ended.append(loop.time())

    pub.subscribe(slow)
    pub.add("a")  # flushes at once, and is slow
    pub.add("b")  # arrives right after that slow flush: must wait a whole interval
    assert len(started) == 1
    await wait_until(lambda: len(started) == 2)
    assert started[1] - ended[0] >= 0.045
