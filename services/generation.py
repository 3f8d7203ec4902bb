"""A Generation is one answer being produced: an asyncio task owned by the hub, not by any page.

Pages and API streams subscribe and unsubscribe at will; the answer goes on until it ends, is
stopped, fails, or runs past the maximum duration. Its text is checkpointed to the database about
once a second so a crash loses at most that much.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import openai

from services.errors import (
    DurationExceeded,
    Failure,
    MalformedChunk,
    StreamDropped,
    StreamStalled,
    describe_failure,
    retry_after_seconds,
)
from services.llm import Backend
from services.models import Status
from services.publisher import BatchingPublisher
from services.settings import Settings
from services.store import Store

log = logging.getLogger(__name__)

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)


class Generation:
    """Reads one upstream answer and publishes it in batches to whoever is listening."""

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
    ) -> None:
        self.owner = owner
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.backend = backend
        self.prompt = prompt
        self.stream = stream
        self.store = store
        self.settings = settings
        self.publisher = BatchingPublisher(settings.flush_interval_ms / 1000)
        self.started_at = time.time()
        self.first_token_at: float | None = None
        self.finish_reason = ""
        self.usage: Any = None
        self.task: asyncio.Task[None] | None = None
        self._stopped_as: Status | None = None

    @property
    def done(self) -> bool:
        return self.publisher.final

    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.create_task(self._run(), name=f"generation-{self.message_id}")
        return self.task

    def stop(self, status: Status = Status.STOPPED) -> None:
        """Cancelling the task closes the upstream HTTP response, also before the first token."""
        if self.task is not None and not self.task.done():
            self._stopped_as = status
            self.task.cancel()

    async def _run(self) -> None:
        checkpointer = asyncio.create_task(self._checkpoint_loop())
        status, note = Status.DONE, ""
        try:
            try:
                async with asyncio.timeout(self.settings.max_generation_s):
                    await self._with_retries()
            except TimeoutError as exc:
                raise DurationExceeded() from exc
            status, note = self._outcome()
        except asyncio.CancelledError:
            if self._stopped_as is None:
                raise
            status = self._stopped_as
            note = "The app was shut down before this answer finished." if status == Status.INTERRUPTED else ""
        except Exception as exc:
            failure = self._describe(exc)
            status, note = failure.status, failure.message
            log.warning("generation %s failed: %s", self.message_id, type(exc).__name__)
        finally:
            checkpointer.cancel()
            await self._save_final(status, note)
            self.publisher.close(status, note)

    def _describe(self, exc: BaseException) -> Failure:
        timeout = self.settings.idle_timeout_s if isinstance(exc, StreamStalled) else self.settings.max_generation_s
        return describe_failure(exc, self.backend.facts, timeout)

    def _outcome(self) -> tuple[Status, str]:
        if self.finish_reason == "content_filter":
            return Status.FILTERED, "The answer was stopped by the content filter."
        if self.finish_reason == "length":
            return Status.DONE, "The answer reached the length limit."
        if not self.finish_reason:
            raise StreamDropped()
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
            self.publisher.set_phase("retrying", f"{reason} — retrying in {math.ceil(left)} s")
            await asyncio.sleep(min(1.0, left))

    async def _once(self) -> None:
        self.publisher.set_phase("connecting")
        request: dict[str, Any] = {
            "model": self.backend.model,
            "messages": self.prompt,
            **self.backend.request_options,
        }
        completions = self.backend.client.chat.completions
        if not self.stream:
            self.publisher.set_phase("waiting")
            result = await completions.create(stream=False, **request)
            self.usage = result.usage
            if result.choices:
                choice = result.choices[0]
                self._token((choice.message.content if choice.message else None) or "")
                self.finish_reason = choice.finish_reason or ""
            return
        stream = await completions.create(stream=True, stream_options={"include_usage": True}, **request)
        self.publisher.set_phase("waiting")
        async with stream:
            chunks = stream.__aiter__()
            while True:
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a Stop that lands
                    # just as a chunk arrives, and the answer would run on to the end.
                    async with asyncio.timeout(self.settings.idle_timeout_s):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except TimeoutError as exc:
                    raise StreamStalled() from exc
                except json.JSONDecodeError as exc:
                    raise MalformedChunk() from exc
                except openai.APIError:
                    raise
                except Exception as exc:  # the transport broke mid-stream
                    raise StreamDropped() from exc
                self._take(chunk)

    def _take(self, chunk: Any) -> None:
        """Azure sends chunks with no choices (prompt filter, usage) and choices with no delta."""
        if getattr(chunk, "usage", None):
            self.usage = chunk.usage
        for choice in chunk.choices or []:
            delta = getattr(choice, "delta", None)
            content = getattr(delta, "content", None) if delta is not None else None
            if content:
                self._token(content)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason

    def _token(self, text: str) -> None:
        if not text:
            return
        if self.first_token_at is None:
            self.first_token_at = time.time()
            self.publisher.set_phase("streaming")
        self.publisher.add(text)

    async def _checkpoint_loop(self) -> None:
        saved = ""
        while True:
            await asyncio.sleep(self.settings.checkpoint_interval_s)
            text = self.publisher.full_text
            if text != saved:
                await self.store.update_message(self.owner, self.message_id, content=text)
                saved = text

    async def _save_final(self, status: Status, note: str) -> None:
        values: dict[str, Any] = {
            "content": self.publisher.full_text,
            "status": status,
            "error": note,
            "finish_reason": self.finish_reason,
            "model": self.backend.model,
        }
        if self.first_token_at is not None:
            values["ttft_ms"] = int((self.first_token_at - self.started_at) * 1000)
        if self.usage is not None:
            values["prompt_tokens"] = getattr(self.usage, "prompt_tokens", None)
            values["completion_tokens"] = getattr(self.usage, "completion_tokens", None)
        try:
            await asyncio.shield(self.store.update_message(self.owner, self.message_id, **values))
        except Exception:
            log.exception("could not save message %s", self.message_id)


class GenerationHub:
    """Owns every running Generation so answers outlive the pages that started them."""

    def __init__(self) -> None:
        self._active: dict[int, Generation] = {}
        self._watchers: dict[str, set[Callable[[Generation], None]]] = {}

    def start(self, generation: Generation) -> Generation:
        self._active[generation.message_id] = generation
        task = generation.start()
        task.add_done_callback(lambda _t: self._active.pop(generation.message_id, None))
        for callback in list(self._watchers.get(generation.owner, ())):
            callback(generation)
        return generation

    def watch(self, owner: str, callback: Callable[[Generation], None]) -> Callable[[], None]:
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

    def get(self, owner: str, message_id: int) -> Generation | None:
        gen = self._active.get(message_id)
        return gen if gen is not None and gen.owner == owner else None

    def for_conversation(self, owner: str, conversation_id: str) -> list[Generation]:
        return [g for g in self._active.values() if g.owner == owner and g.conversation_id == conversation_id]

    def stats(self) -> dict[str, int]:
        """Counts for the leak check: what is running and who is listening."""
        return {
            "generations": len(self._active),
            "subscribers": sum(g.publisher.subscriber_count for g in self._active.values()),
            "watchers": sum(len(c) for c in self._watchers.values()),
        }

    async def shutdown(self) -> None:
        """On app exit, stop what is running and let each save its final row."""
        tasks = [g.task for g in self._active.values() if g.task is not None]
        for gen in list(self._active.values()):
            gen.stop(Status.INTERRUPTED)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
