"""Per-user limits: concurrent answers and a sliding one-minute window of starts (services/limits.py)."""

from __future__ import annotations

import asyncio

import pytest

from services.limits import WINDOW_S, LimitExceeded, Limits, answer_token_option
from services.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_slot_is_taken_while_the_answer_runs_and_given_back_when_it_ends() -> None:
    async def main() -> None:
        limits = Limits(max_concurrent=2, per_minute=0)
        gate = asyncio.Event()
        tasks = []
        for _ in range(2):
            with limits.admit("alice") as admission:
                tasks.append(asyncio.create_task(gate.wait()))
                admission.hold(tasks[-1])
        with pytest.raises(LimitExceeded, match="2 answers") as refused, limits.admit("alice"):
            pass
        assert refused.value.retry_after > 0
        with limits.admit("bob"):  # another user is not affected
            pass
        gate.set()
        await asyncio.gather(*tasks)
        await asyncio.sleep(0)  # done callbacks run on the next loop turn
        assert limits.active("alice") == 0
        with limits.admit("alice"):
            pass

    asyncio.run(main())


def test_a_start_that_fails_gives_back_its_slot_and_its_place_in_the_minute() -> None:
    limits = Limits(max_concurrent=1, per_minute=1)
    with pytest.raises(RuntimeError), limits.admit("alice"):
        raise RuntimeError("the database is gone")
    assert limits.active("alice") == 0
    with limits.admit("alice"):  # neither limit counts the failed start
        pass


def test_the_minute_slides_and_retry_after_says_when_the_oldest_start_leaves_it() -> None:
    clock = Clock()
    limits = Limits(max_concurrent=0, per_minute=3, clock=clock)
    for step in (0, 10, 20):
        clock.now = 1000 + step
        with limits.admit("alice"):
            pass
    clock.now = 1030
    with pytest.raises(LimitExceeded, match="limit of 3 messages per minute") as refused, limits.admit("alice"):
        pass
    assert refused.value.retry_after == 30  # the start at 1000 leaves the window at 1060
    clock.now = 1000 + WINDOW_S
    with limits.admit("alice"):
        pass


def test_zero_means_no_limit() -> None:
    limits = Limits(max_concurrent=0, per_minute=0)
    for _ in range(100):
        with limits.admit("alice"):
            pass


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
