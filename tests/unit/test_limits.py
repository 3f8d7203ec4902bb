"""Per-user limits: concurrent answers and a sliding one-minute window of starts (services/limits.py)."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from services.limits import WINDOW_S, LimitExceeded, Limits, SharedLimits, answer_token_option
from services.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_slot_is_taken_while_the_answer_runs_and_given_back_when_it_ends() -> None:
    limits = Limits(max_concurrent=2, per_minute=0)
    gate = asyncio.Event()
    tasks = []
    for _ in range(2):
        async with limits.admit("alice") as admission:
            tasks.append(asyncio.create_task(gate.wait()))
            admission.hold(tasks[-1])
    with pytest.raises(LimitExceeded, match="2 answers") as refused:
        async with limits.admit("alice"):
            pass
    assert refused.value.retry_after > 0
    async with limits.admit("bob"):  # another user is not affected
        pass
    gate.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(0)  # done callbacks run on the next loop turn
    assert limits.active("alice") == 0
    async with limits.admit("alice"):
        pass


async def test_a_start_that_fails_gives_back_its_slot_and_its_place_in_the_minute() -> None:
    limits = Limits(max_concurrent=1, per_minute=1)
    with pytest.raises(RuntimeError):
        async with limits.admit("alice"):
            raise RuntimeError("the database is gone")
    assert limits.active("alice") == 0
    async with limits.admit("alice"):  # neither limit counts the failed start
        pass


async def test_the_minute_slides_and_retry_after_says_when_the_oldest_start_leaves_it() -> None:
    clock = Clock()
    limits = Limits(max_concurrent=0, per_minute=3, clock=clock)
    for step in (0, 10, 20):
        clock.now = 1000 + step
        async with limits.admit("alice"):
            pass
    clock.now = 1030
    with pytest.raises(LimitExceeded, match="limit of 3 messages per minute") as refused:
        async with limits.admit("alice"):
            pass
    assert refused.value.retry_after == 30  # the start at 1000 leaves the window at 1060
    clock.now = 1000 + WINDOW_S
    async with limits.admit("alice"):
        pass


async def test_zero_means_no_limit() -> None:
    limits = Limits(max_concurrent=0, per_minute=0)
    for _ in range(100):
        async with limits.admit("alice"):
            pass


async def test_shared_limits_hold_across_instances_and_free_a_dead_instances_slots(redis_url: str) -> None:
    one, two = Redis.from_url(redis_url), Redis.from_url(redis_url)
    first = SharedLimits(one, max_concurrent=2, per_minute=3, lifetime_s=1.0)
    second = SharedLimits(two, max_concurrent=2, per_minute=3, lifetime_s=1.0)
    gate = asyncio.Event()
    running = asyncio.create_task(gate.wait())
    for limits in (first, second):  # one answer running on each instance
        async with limits.admit("alice") as admission:
            admission.hold(running)
    with pytest.raises(LimitExceeded, match="2 answers"):
        async with second.admit("alice"):
            pass
    async with first.admit("bob"):  # another user is not affected
        pass
    gate.set()
    await running
    async with asyncio.timeout(5):  # both slots given back (a Redis round trip each)
        while await one.zcard("streamchat:limits:active:alice"):
            await asyncio.sleep(0.02)
    async with second.admit("alice"):  # the third start of the minute, wherever it comes from
        pass
    with pytest.raises(LimitExceeded, match="limit of 3 messages per minute") as refused:
        async with first.admit("alice"):
            pass
    assert 55 <= refused.value.retry_after <= 60
    # an instance that dies holding a slot: the slot frees itself after `lifetime_s`
    crashed = SharedLimits(one, max_concurrent=1, per_minute=0, lifetime_s=0.5)
    stuck = asyncio.create_task(asyncio.Event().wait())  # never ends, never gives back
    async with crashed.admit("carol") as admission:
        admission.hold(stuck)
    with pytest.raises(LimitExceeded):
        async with crashed.admit("carol"):
            pass
    await asyncio.sleep(0.6)  # the slot's lifetime, set above
    async with crashed.admit("carol"):
        pass
    stuck.cancel()
    async with asyncio.timeout(5):  # its slot given back before the connections close
        while await one.zcard("streamchat:limits:active:carol"):
            await asyncio.sleep(0.02)
    await one.aclose()
    await two.aclose()


@pytest.mark.parametrize(
    ("env", "provider", "expected"),
    [
        ({}, "azure", {}),
        ({"max_answer_tokens": 100}, "azure", {"max_completion_tokens": 100}),
        ({"max_answer_tokens": 100, "openai_api_key": "k"}, "openai", {"max_completion_tokens": 100}),
        ({"max_answer_tokens": 100, "openai_base_url": "http://127.0.0.1:1/v1"}, "openai", {"max_tokens": 100}),
    ],
)
def test_max_answer_tokens_goes_in_the_field_the_provider_reads(env: dict, provider: str, expected: dict) -> None:
    assert answer_token_option(Settings(_env_file=None, **env), provider) == expected
