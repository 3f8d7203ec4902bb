"""Per-user limits, so one user (or one runaway script) cannot take the model from everyone else.

`MAX_CONCURRENT_PER_USER` answers generating at once and `RATE_LIMIT_PER_MIN` starts (sends,
retries, regenerates, gateway requests) in any sliding 60 s. A refusal is a `LimitExceeded` raised
before anything is written or sent upstream, so nothing typed is lost and the upstream is not called.

`Limits` counts in this process. With several instances, `SharedLimits` counts in Redis instead,
so a user is held to the same limits whichever instance serves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.cluster import FOLLOW_GRACE_S, Cluster
from services.settings import Settings

log = logging.getLogger(__name__)

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


Taken = tuple[Callable[[], None], Callable[[], None]]  # give the slot back; undo the start entirely


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

    @contextlib.asynccontextmanager
    async def admit(self, owner: str) -> AsyncIterator[Admission]:
        """Checked and counted before the block runs. A start that fails inside the block gives its
        slot and its place in the minute back."""
        release, undo = await self._take(owner)
        admission = Admission(release)
        try:
            yield admission
        except BaseException:
            undo()
            raise
        finally:
            if not admission.held:
                release()

    async def _take(self, owner: str) -> Taken:
        return self._take_here(owner)

    def _take_here(self, owner: str) -> Taken:
        """Check and count in one step (no await in between), so parallel requests cannot all slip through."""
        now = self._clock()
        starts = self._starts.setdefault(owner, deque())
        while starts and starts[0] <= now - WINDOW_S:
            starts.popleft()
        active = self._active.get(owner, 0)
        if self.max_concurrent and active >= self.max_concurrent:
            raise self.too_many(active)
        if self.per_minute and len(starts) >= self.per_minute:
            raise self.too_often(starts[0] + WINDOW_S - now)
        starts.append(now)
        self._active[owner] = active + 1

        def undo() -> None:
            with contextlib.suppress(ValueError):
                starts.remove(now)

        return lambda: self._release(owner), undo

    def too_many(self, active: int) -> LimitExceeded:
        return LimitExceeded(
            f"You already have {active} answers being written. Wait for one to finish, or stop one, then send again.",
            BUSY_RETRY_S,
        )

    def too_often(self, wait_s: float) -> LimitExceeded:
        wait = max(1, math.ceil(wait_s))
        plural = "s" if self.per_minute != 1 else ""
        return LimitExceeded(
            f"You have reached the limit of {self.per_minute} message{plural} per minute. Try again in {wait} s.", wait
        )

    def _release(self, owner: str) -> None:
        left = self._active.get(owner, 0) - 1
        if left > 0:
            self._active[owner] = left
        else:
            self._active.pop(owner, None)

    def active(self, owner: str) -> int:
        return self._active.get(owner, 0)


# KEYS: the owner's active slots and starts (sorted sets: member an admission id, score its expiry or
# its start). ARGV: max concurrent, per minute, window s, slot lifetime s, admission id. Redis's own
# clock, so instances whose clocks differ count one minute. Returns {0} admitted, {1, active} or
# {2, seconds until the oldest start leaves the window}.
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local max_active, per_minute = tonumber(ARGV[1]), tonumber(ARGV[2])
local window, lifetime = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local active = redis.call('ZCARD', KEYS[1])
if max_active > 0 and active >= max_active then return {1, active} end
if per_minute > 0 and redis.call('ZCARD', KEYS[2]) >= per_minute then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {2, tostring(tonumber(oldest[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], now + lifetime, ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('EXPIRE', KEYS[1], math.ceil(lifetime))
redis.call('EXPIRE', KEYS[2], math.ceil(window))
return {0}
"""


class SharedLimits(Limits):
    """The same limits over every instance, counted in Redis. A slot whose instance died frees itself
    once an answer could no longer be running (`lifetime_s`). With Redis unreachable, each instance
    falls back to counting on its own rather than refusing everyone."""

    def __init__(self, redis: Redis, max_concurrent: int, per_minute: int, lifetime_s: float) -> None:
        super().__init__(max_concurrent, per_minute)
        self._redis = redis
        self._script = redis.register_script(ADMIT)
        self._lifetime_s = lifetime_s
        self._pending: set[asyncio.Task[Any]] = set()
        self._fallback = False

    @classmethod
    def for_cluster(cls, cluster: Cluster, settings: Settings) -> SharedLimits:
        lifetime = settings.max_generation_s + FOLLOW_GRACE_S  # no answer runs longer, reaping included
        return cls(cluster.redis, settings.max_concurrent_per_user, settings.rate_limit_per_min, lifetime)

    async def _take(self, owner: str) -> Taken:
        if not (self.max_concurrent or self.per_minute):
            return lambda: None, lambda: None
        keys = [f"streamchat:limits:active:{owner}", f"streamchat:limits:starts:{owner}"]
        admission = secrets.token_hex(8)
        args = [self.max_concurrent, self.per_minute, WINDOW_S, self._lifetime_s, admission]
        try:
            verdict = await self._script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            if not self._fallback:
                log.warning("limits counted per instance while Redis cannot be reached (%s)", exc)
            self._fallback = True
            return self._take_here(owner)
        self._fallback = False
        if verdict[0] == 1:
            raise self.too_many(int(verdict[1]))
        if verdict[0] == 2:
            raise self.too_often(float(verdict[1]))
        return (
            lambda: self._later(self._redis.zrem(keys[0], admission)),
            lambda: self._later(self._redis.zrem(keys[1], admission)),
        )

    def _later(self, work: Any) -> None:
        async def quietly() -> None:
            with contextlib.suppress(RedisError, OSError):
                await work

        task = asyncio.get_running_loop().create_task(quietly())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


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
