"""A Generation is one answer being produced: an asyncio task owned by the hub, not by any page.

Pages and API streams subscribe and unsubscribe at will; the answer goes on until it ends, is
stopped, fails, or runs past the maximum duration. Its text is checkpointed to the database about
once a second (with every other running answer's, by the `CheckpointWriter`) so a crash loses at
most that much; writes are conditional and retried, and a finished answer stays in the hub until
its final row is written. An answer kept only in memory (the gateway's `"store": false`) writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import openai

from services.checkpoints import SAVE_BACKOFF_MAX_S, CheckpointWriter
from services.chunks import Ending
from services.errors import (
    DurationExceeded,
    Failure,
    StreamDropped,
    StreamStalled,
    describe_failure,
    retry_after_seconds,
    storage_reason,
)
from services.events import Started, started_of
from services.live_answer import LiveAnswer
from services.llm import Backend
from services.models import REFUSAL_NOTE, Phase, Status
from services.publisher import BatchingPublisher
from services.settings import Settings
from services.store import Store

if TYPE_CHECKING:
    from services.cluster import Cluster

log = logging.getLogger(__name__)

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)
# Chunks already buffered are handed out without a suspension: after this long reading them, let
# the loop run other work (pages, other answers) before reading on.
YIELD_AFTER_S = 0.005
INTERRUPTED_NOTE = "The app was shut down before this answer finished."


class Generation(LiveAnswer):
    """Reads one upstream answer and publishes it in batches to whoever is listening.

    However the reading ends (finished, stopped, failed, cancelled twice, or cancelled before it
    began), `_ended` closes the publisher and starts the final save, so every tab gets a final status.
    The final row is retried until it is written; until then the text lives here, in memory.
    """

    def __init__(
        self,
        *,
        owner: str,
        conversation_id: str,
        message_id: int,
        backend: Backend,
        prompt: list[dict[str, str]],
        stream: bool,
        store: Store,
        settings: Settings,
        checkpoints: CheckpointWriter | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        """`checkpoints` None: the answer is kept only in memory (no checkpoints, no final row).
        `overrides`: the conversation's model, temperature or length limit (services/steering.py)."""
        super().__init__(
            owner=owner,
            conversation_id=conversation_id,
            message_id=message_id,
            publisher=BatchingPublisher(settings.flush_interval_ms / 1000),
            started_at=time.time(),
        )
        self.backend = backend
        self.prompt = prompt
        self.overrides = overrides
        self.stream = stream
        self.store = store
        self.settings = settings
        self.checkpoints = checkpoints
        self.task: asyncio.Task[None] | None = None
        self._result: tuple[Status, str] | None = None
        self.error: BaseException | None = None  # what failed the answer, for services/metrics.py
        self._stopped_as: Status | None = None
        self._untrack: Callable[[], None] | None = None
        self._saver: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.create_task(self._run(), name=f"generation-{self.message_id}")
        self.task.add_done_callback(self._ended)
        return self.task

    def stop(self, status: Status = Status.STOPPED) -> None:
        """Cancelling the task closes the upstream HTTP response, also before the first token."""
        if self.task is not None and not self.task.done():
            self._stopped_as = status
            self.task.cancel()

    async def _run(self) -> None:
        if self.checkpoints is not None:
            self._untrack = self.checkpoints.track(self.owner, self.message_id, lambda: self.publisher.full_text)
        try:
            try:
                async with asyncio.timeout(self.settings.max_generation_s):
                    await self._with_retries()
            except TimeoutError as exc:
                raise DurationExceeded() from exc
            self._result = self._outcome()
        except asyncio.CancelledError:
            self._result = self._cancelled()
            if self._stopped_as is None:
                raise
        except Exception as exc:
            self.error = exc
            failure = self._describe(exc)
            self._result = (failure.status, failure.message)
            log.warning("generation %s failed: %s", self.message_id, type(exc).__name__)

    def _cancelled(self) -> tuple[Status, str]:
        status = self._stopped_as or Status.INTERRUPTED
        return status, INTERRUPTED_NOTE if status == Status.INTERRUPTED else ""

    def _ended(self, _task: asyncio.Task[None]) -> None:
        """A done callback: it runs whatever happened to the task, and nothing can cancel it."""
        status, note = self._result or self._cancelled()
        self.ended_at = time.time()
        if self._untrack is not None:
            self._untrack()  # a checkpoint already in flight is harmless: see Store.checkpoint_messages
        values = self._final_values(status, note)
        self._saver = asyncio.get_running_loop().create_task(self._save_final(values), name=f"save-{self.message_id}")
        self.publisher.close(status, note)

    def _describe(self, exc: BaseException) -> Failure:
        timeout = self.settings.idle_timeout_s if isinstance(exc, StreamStalled) else self.settings.max_generation_s
        return describe_failure(exc, self.backend.facts, timeout)

    def _outcome(self) -> tuple[Status, str]:
        """What the model did, said honestly: filtered, cut off, a refusal, or a call for a tool."""
        ending = self.ending or Ending()
        which = f" ({', '.join(ending.flagged)})" if ending.flagged else ""
        if ending.finish_reason == "content_filter":
            return Status.FILTERED, f"The answer was stopped by the content filter{which}."
        if ending.flagged:  # Azure's asynchronous filter can flag an answer after its `stop` chunk
            return Status.FILTERED, f"The content filter flagged this answer{which}."
        if not ending.finish_reason:
            raise StreamDropped()
        if ending.tools:
            note = f"The model asked to use a tool this app does not offer ({', '.join(ending.tools)})."
            return (Status.DONE if self.publisher.full_text else Status.ERROR), note
        if ending.refused:
            return Status.DONE, REFUSAL_NOTE
        if ending.finish_reason == "length":
            return Status.DONE, "The answer reached the length limit."
        return Status.DONE, ""

    async def _with_retries(self) -> None:
        retries = self.settings.max_retries
        for attempt in range(retries + 1):
            try:
                await self._once()
                return
            except RETRYABLE as exc:
                if attempt == retries or self.publisher.full_text:
                    raise
                await self._wait_before_retry(exc, attempt)

    async def _wait_before_retry(self, exc: Exception, attempt: int) -> None:
        """Counts down on the message so the user sees why nothing is happening."""
        backoff = min(8.0, 0.5 * 2**attempt)
        delay = retry_after_seconds(exc, backoff) if isinstance(exc, openai.APIStatusError) else backoff
        delay = min(delay, 60.0)
        reason = "Rate limited" if isinstance(exc, openai.RateLimitError) else "Model server unavailable"
        deadline = asyncio.get_running_loop().time() + delay
        for _ in range(int(delay) + 2):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            seconds = math.ceil(left)
            self.publisher.set_phase(Phase.RETRYING, f"{reason} — retrying in {seconds} s", seconds)
            await asyncio.sleep(min(1.0, left))

    async def _once(self) -> None:
        """One attempt: the backend's parts, published as they come. A streamed answer that sends
        nothing for IDLE_TIMEOUT_S once the server took the request is stalled.

        One deadline per attempt, moved on lazily: a timer that finds a part arrived meanwhile sets
        itself again, instead of a new timer per chunk (thousands a second under load)."""
        self.publisher.set_phase(Phase.CONNECTING)
        loop = asyncio.get_running_loop()
        idle = self.settings.idle_timeout_s
        last_part = loop.time()
        watchdog: asyncio.TimerHandle | None = None

        def check(deadline: asyncio.Timeout) -> None:
            nonlocal watchdog
            quiet = loop.time() - last_part
            if quiet >= idle:
                deadline.reschedule(loop.time())  # ends the read as asyncio.timeout does
            else:
                watchdog = loop.call_later(idle - quiet, check, deadline)

        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a Stop that lands just as a
            # chunk arrives, and the answer would run on to the end.
            async with (
                asyncio.timeout(None) as deadline,
                contextlib.aclosing(self.backend.stream(self.prompt, self.stream, self.overrides)) as parts,
            ):
                since_yield = time.monotonic()
                async for part in parts:
                    last_part = loop.time()
                    if isinstance(part, str):
                        self._token(part)
                    elif isinstance(part, Ending):
                        self.ending = part
                    else:  # accepted
                        self.publisher.set_phase(Phase.WAITING)
                        if self.stream and watchdog is None:
                            watchdog = loop.call_later(idle, check, deadline)
                    if time.monotonic() - since_yield > YIELD_AFTER_S:
                        await asyncio.sleep(0)
                        since_yield = time.monotonic()
        except TimeoutError as exc:
            raise StreamStalled() from exc
        finally:
            if watchdog is not None:
                watchdog.cancel()

    def _token(self, text: str) -> None:
        if not text:
            return
        if self.first_token_at is None:
            self.first_token_at = time.time()
            self.publisher.set_phase(Phase.STREAMING)
        self.publisher.add(text)

    def _final_values(self, status: Status, note: str) -> dict[str, Any]:
        ending = self.ending or Ending()
        values: dict[str, Any] = {
            "content": self.publisher.full_text,
            "status": status,
            "error": note,
            "finish_reason": ending.finish_reason,
            "model": (self.overrides or {}).get("model", self.backend.model),
            "prompt_tokens": ending.prompt_tokens,
            "completion_tokens": ending.completion_tokens,
        }
        return values | {"ttft_ms": self.ttft_ms, "duration_ms": self.duration_ms}

    async def _save_final(self, values: dict[str, Any]) -> None:
        """Retried with capped backoff until written; the hub keeps this generation until then."""
        wait = self.settings.checkpoint_interval_s
        try:
            while self.checkpoints is not None:
                try:
                    await self.store.finish_message(self.owner, self.message_id, **values)
                except Exception as exc:
                    why = storage_reason(exc)
                    log.warning("could not save answer %s (%s); retrying in %g s", self.message_id, why, wait)
                    self._tell_saved(False)
                    await asyncio.sleep(wait)
                    wait = min(wait * 2, SAVE_BACKOFF_MAX_S)
                else:
                    self._tell_saved(True)
                    return
        finally:
            self._settle()


class GenerationHub:
    """Owns every running Generation so answers outlive the pages that started them.

    With several instances (`cluster`), it also shares what it starts and reads what others run:
    `get` and `for_conversation` then include `RemoteAnswer`s, which readers follow as they follow a
    local answer."""

    def __init__(self, cluster: Cluster | None = None) -> None:
        self._active: dict[int, Generation] = {}
        self._watchers: dict[str, set[Callable[[Started], None]]] = {}
        self.cluster = cluster

    def start(self, generation: Generation) -> Generation:
        """Kept until its final row is saved, so a reload meanwhile still shows the whole answer."""
        self._active[generation.message_id] = generation
        generation.start()
        generation.settled.add_done_callback(lambda _f: self._forget(generation))
        if self.cluster is not None and generation.checkpoints is not None:  # stored answers only
            self.cluster.publish(generation)
        self.tell_watchers(generation.owner, started_of(generation))
        return generation

    def tell_watchers(self, owner: str, started: Started) -> None:
        for callback in list(self._watchers.get(owner, ())):
            callback(started)

    def _forget(self, generation: Generation) -> None:
        if self._active.get(generation.message_id) is generation:
            del self._active[generation.message_id]

    def watch(self, owner: str, callback: Callable[[Started], None]) -> Callable[[], None]:
        """Tell every open tab of this owner when an answer starts, so a second tab follows it live.

        The callback runs inside `start`, so it must only schedule work. Returns the unwatch function."""
        self._watchers.setdefault(owner, set()).add(callback)

        def unwatch() -> None:
            callbacks = self._watchers.get(owner)
            if callbacks is not None:
                callbacks.discard(callback)
                if not callbacks:
                    del self._watchers[owner]

        return unwatch

    def watched(self, owner: str) -> bool:
        """Some tab of this owner is open here."""
        return owner in self._watchers

    def local(self, owner: str, message_id: int) -> Generation | None:
        gen = self._active.get(message_id)
        return gen if gen is not None and gen.owner == owner else None

    def get(self, owner: str, message_id: int) -> LiveAnswer | None:
        found = self.local(owner, message_id)
        if found is None and self.cluster is not None:
            return self.cluster.mirror(owner, message_id)
        return found

    def for_conversation(self, owner: str, conversation_id: str) -> list[LiveAnswer]:
        """Running answers, and finished ones whose final row is not saved yet (see `done`)."""
        here = [g for g in self._active.values() if g.owner == owner and g.conversation_id == conversation_id]
        return here + (self.cluster.mirrors(owner, conversation_id) if self.cluster is not None else [])

    def stats(self) -> dict[str, int]:
        """Counts for the leak check: what is running and who is listening."""
        return {
            "generations": len(self._active),
            "subscribers": sum(g.publisher.subscriber_count for g in self._active.values()),
            "watchers": sum(len(c) for c in self._watchers.values()),
        }

    async def shutdown(self) -> None:
        """On app exit, stop what is running and let each save its final row."""
        generations = list(self._active.values())
        for gen in generations:
            gen.stop(Status.INTERRUPTED)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(g.settled for g in generations), return_exceptions=True), 5)
