"""Typed answer events over the real batching publisher: exactly-once offsets, coalescing, replay."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import Any

from services.chunks import Ending
from services.events import Delta, Done, Snapshot, Status, follow, replay
from services.models import Message, Phase
from services.models import Status as ModelStatus
from services.publisher import BatchingPublisher


def running(text: str = "") -> Any:
    """A generation as `follow` sees it: a real publisher, and its ending once known (no answer task)."""
    pub = BatchingPublisher(interval_s=0)
    gen = SimpleNamespace(publisher=pub, ending=None, ttft_ms=None, duration_ms=None)
    pub.set_phase(Phase.STREAMING)
    if text:
        pub.add(text)
    return gen


async def collect(events: Any) -> list[Any]:
    return [e async for e in events]


def text_of(events: list[Any]) -> str:
    return "".join(e.text for e in events if isinstance(e, Snapshot | Delta))


async def test_every_offset_gets_the_rest_exactly_once() -> None:
    full = "Hello, streaming world! ünïcødé ✓ and more"
    for after in (0, 5, 13, 20):
        gen = running(full[:13])
        reader = asyncio.ensure_future(collect(follow(gen, after)))
        await asyncio.sleep(0)
        for ch in full[13:]:
            gen.publisher.add(ch)
        gen.ending = Ending("stop", prompt_tokens=3, completion_tokens=9)
        gen.publisher.close(ModelStatus.DONE)
        events = await asyncio.wait_for(reader, 2)
        assert text_of(events) == full[after:]
        assert isinstance(events[0], Snapshot) and events[0].status == Status("streaming")
        deltas = [e for e in events if isinstance(e, Delta)]
        assert all(d.offset == full.index(d.text, d.offset - len(d.text)) + len(d.text) for d in deltas)
        usage = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
        assert events[-1] == Done("done", "", usage, None, "stop")


async def test_a_reader_that_does_not_read_holds_one_pending_delta_not_a_queue() -> None:
    gen = running()
    events = follow(gen, 0)
    assert isinstance(await anext(events), Snapshot)
    for i in range(5000):  # the reader is busy elsewhere meanwhile
        gen.publisher.add(f"t{i} ")
        if i % 1000 == 0:
            gen.publisher.set_phase(Phase.RETRYING, f"Rate limited — retrying in {i // 1000} s", i // 1000)
            gen.publisher.set_phase(Phase.STREAMING)
    box_items = gen.publisher._subscribers[0].__self__.items
    assert len(box_items) <= 11  # text and status alternate at most at each phase change
    gen.publisher.close(ModelStatus.DONE)
    rest = await collect(events)
    assert text_of(rest) == "".join(f"t{i} " for i in range(5000))
    assert isinstance(rest[-1], Done)


async def test_retry_status_carries_its_seconds() -> None:
    gen = running()
    events = follow(gen, 0)
    await anext(events)
    gen.publisher.set_phase(Phase.RETRYING, "Rate limited — retrying in 7 s", 7)
    assert await anext(events) == Status("retrying", "Rate limited — retrying in 7 s", 7)
    await events.aclose()
    late = follow(gen, 0)  # a reader arriving during the countdown gets it in its snapshot
    assert (await anext(late)).status == Status("retrying", "Rate limited — retrying in 7 s", 7)
    await late.aclose()


async def test_leaving_or_being_cancelled_unsubscribes() -> None:
    gen = running("abc")
    events = follow(gen, 0)
    await anext(events)
    assert gen.publisher.subscriber_count == 1
    await events.aclose()
    assert gen.publisher.subscriber_count == 0
    task = asyncio.ensure_future(collect(follow(gen, 0)))
    await asyncio.sleep(0.01)
    assert gen.publisher.subscriber_count == 1
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert gen.publisher.subscriber_count == 0


async def test_an_ended_answer_still_in_memory_and_a_stored_one_end_with_done() -> None:
    gen = running("all of it")
    gen.publisher.close(ModelStatus.STOPPED)
    events = await collect(follow(gen, 4))
    assert events == [Snapshot("of it", 9, None), Done("stopped", "", None, None)]
    row = Message(
        conversation_id="c",
        owner="o",
        role="assistant",
        content="stored text",
        status="error",
        error="boom",
        prompt_tokens=2,
        completion_tokens=3,
        ttft_ms=40,
        finish_reason="",
    )
    events = await collect(replay(row, 7))
    assert events == [
        Snapshot("text", 11, None),
        Done("error", "boom", {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}, 40),
    ]
