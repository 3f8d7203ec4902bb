"""Keep-alive pings over the real publisher: while an answer is quiet, none while it talks."""

from __future__ import annotations

import asyncio

from services.events import Delta, Snapshot, follow
from services.models import Status
from tests.unit.test_events import running


async def test_a_quiet_answer_gets_pings_and_keeps_its_subscription() -> None:
    gen = running("a")
    out = follow(gen, 0, idle_s=0.05)
    assert isinstance(first := await anext(out), Snapshot) and first.text == "a"
    assert await asyncio.wait_for(anext(out), 2) is None  # silence: a ping, not the end
    assert await asyncio.wait_for(anext(out), 2) is None  # and another
    gen.publisher.add("b")
    assert await asyncio.wait_for(anext(out), 2) == Delta("b", 2)
    assert gen.publisher.subscriber_count == 1
    await out.aclose()
    await asyncio.sleep(0)
    assert gen.publisher.subscriber_count == 0  # leaving unsubscribes


async def test_a_talking_answer_gets_no_pings_and_ends() -> None:
    gen = running()
    out = follow(gen, 0, idle_s=0.5)
    await anext(out)

    async def talk() -> None:
        for i in range(40):
            gen.publisher.add(f"t{i} ")
            await asyncio.sleep(0.02)  # 0.8 s in all, never 0.5 s quiet
        gen.publisher.close(Status.DONE)

    talker = asyncio.create_task(talk())
    got = [e async for e in out]
    await talker
    assert None not in got
    assert "".join(e.text for e in got if isinstance(e, Delta)) == "".join(f"t{i} " for i in range(40))
