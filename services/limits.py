"""Per-user limits, so one user (or one runaway script) cannot take the model from everyone else.

`MAX_CONCURRENT_PER_USER` answers generating at once and `RATE_LIMIT_PER_MIN` starts (sends,
retries, regenerates, gateway requests) in any sliding 60 s. A refusal is a `LimitExceeded` raised
before anything is written or sent upstream, so nothing typed is lost and the upstream is not called.

The counts live in this process. Multi-instance mode (Redis) replaces `Limits` with a shared one
that keeps the same two calls, `admit` and `Admission.hold`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from services.settings import Settings

WINDOW_S = 60.0
BUSY_RETRY_S = 5  # an answer's end cannot be predicted: a client polling for a free slot tries again after this


class LimitExceeded(Exception):
    """Over a per-user limit; `retry_after` is whole seconds until a new start can be admitted."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Admission:
    """One admitted start. Until `hold` hands it an answer's task, it counts as generating."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release
        self.held = False

    def hold(self, task: asyncio.Task[Any] | None) -> None:
        """The slot stays taken until the answer's task ends (stopped, failed or done)."""
        if task is None or task.done():
            return
        self.held = True
        task.add_done_callback(lambda _t: self._release())


class Limits:
    """In-process counts per owner: answers generating, and start times in the last minute."""

    def __init__(self, max_concurrent: int, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_concurrent = max_concurrent
        self.per_minute = per_minute
        self._clock = clock
        self._active: dict[str, int] = {}
        self._starts: dict[str, deque[float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_concurrent_per_user, settings.rate_limit_per_min)

    @contextlib.contextmanager
    def admit(self, owner: str) -> Iterator[Admission]:
        """Check and count in one step (no await in between), so parallel requests cannot all slip
        through. A start that fails inside the block gives its slot and its place in the minute back."""
        now = self._clock()
        starts = self._starts.setdefault(owner, deque())
        while starts and starts[0] <= now - WINDOW_S:
            starts.popleft()
        active = self._active.get(owner, 0)
        if self.max_concurrent and active >= self.max_concurrent:
            raise LimitExceeded(
                f"You already have {active} answers being written. Wait for one to finish, "
                "or stop one, then send again.",
                BUSY_RETRY_S,
            )
        if self.per_minute and len(starts) >= self.per_minute:
            wait = max(1, math.ceil(starts[0] + WINDOW_S - now))
            plural = "s" if self.per_minute != 1 else ""
            raise LimitExceeded(
                f"You have reached the limit of {self.per_minute} message{plural} per minute. Try again in {wait} s.",
                wait,
            )
        starts.append(now)
        self._active[owner] = active + 1
        admission = Admission(lambda: self._release(owner))
        try:
            yield admission
        except BaseException:
            with contextlib.suppress(ValueError):
                starts.remove(now)
            raise
        finally:
            if not admission.held:
                self._release(owner)

    def _release(self, owner: str) -> None:
        left = self._active.get(owner, 0) - 1
        if left > 0:
            self._active[owner] = left
        else:
            self._active.pop(owner, None)

    def active(self, owner: str) -> int:
        return self._active.get(owner, 0)


def answer_token_key(settings: Settings, provider: str) -> str:
    """The field each provider reads an answer's token limit from: OpenAI and Azure want
    `max_completion_tokens` (their reasoning models reject `max_tokens`); OpenAI-compatible servers
    (Ollama, vLLM, llama.cpp) and the embedded model know `max_tokens`."""
    official = provider == "azure" or (provider == "openai" and not settings.openai_base_url)
    return "max_completion_tokens" if official else "max_tokens"


def answer_token_option(settings: Settings, provider: str) -> dict[str, int]:
    """`MAX_ANSWER_TOKENS` in that field, or nothing when it is not set."""
    if not settings.max_answer_tokens:
        return {}
    return {answer_token_key(settings, provider): settings.max_answer_tokens}
