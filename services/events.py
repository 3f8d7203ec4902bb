"""Typed events of one answer, for any reader (HTTP API, gateway, pages): what `ChatService.subscribe` yields.

An answer's text is addressed by character offsets (Python characters, i.e. code points): a reader
that has `after` characters gets the rest exactly once, however it got the first part (an earlier
stream, a snapshot, a stored row). A running answer is followed through its publisher: the first
event is a `Snapshot` (text after `after` plus the current status), then `Delta`s and `Status`es,
then one `Done`. A finished answer gives a `Snapshot` and a `Done` from its stored row.

Pages, whose updates are synchronous, `listen` instead: the same events by callback (no coalescing
needed, the publisher already batches), a `Following` with what to show at once, and `Saved` when the
ended answer's final row is written or refused.

A slow reader never makes memory grow with time: while it is not reading, new text is appended to
the one pending delta and a new status replaces a pending one, so what waits for it is at most the
answer's own text plus a few status changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from services.chunks import Ending
from services.live_answer import LiveAnswer
from services.models import Message
from services.publisher import Event as Published
from services.publisher import Snapshot as PublishedSnapshot


@dataclass(frozen=True)
class Status:
    """A live phase: connecting, waiting (for the first token), streaming, retrying (with seconds left)."""

    phase: str
    detail: str = ""
    seconds: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """First event: the text after the reader's offset, the offset it reaches, and the live status
    (None once the answer has ended: a `Done` follows)."""

    text: str
    offset: int
    status: Status | None


@dataclass(frozen=True)
class Delta:
    """New text; `offset` counts the answer's characters up to the end of this text."""

    text: str
    offset: int


@dataclass(frozen=True)
class Done:
    """The end: final status, a note when it did not simply finish, token usage, time to first token."""

    status: str
    error: str = ""
    usage: dict[str, int] | None = None
    ttft_ms: int | None = None
    finish_reason: str = ""
    duration_ms: int | None = None


AnswerEvent = Snapshot | Delta | Status | Done


@dataclass(frozen=True)
class Saved:
    """After each attempt at an ended answer's final row: False while the database refuses it (retried)."""

    saved: bool


@dataclass(frozen=True)
class Started:
    """An answer began (a send, retry or regenerate, in any tab or through the API). `run` tells two
    runs of one answer apart: a retry keeps the message id."""

    message_id: int
    conversation_id: str
    run: int


PageEvent = Delta | Status | Done | Saved
Listener = Callable[[PageEvent], None]


@dataclass(frozen=True)
class Following:
    """What a page shows at once when it starts following an answer; later events go to its listener."""

    started: Started
    snapshot: Snapshot  # `status` is None once it ended: then `done` says how
    done: Done | None
    started_at: float  # when it was asked for (epoch seconds): "Thinking… N s" counts from here
    saved: bool  # False while its final row could not be written
    unsubscribe: Callable[[], None]


def usage_of(prompt_tokens: int | None, completion_tokens: int | None) -> dict[str, int] | None:
    if prompt_tokens is None and completion_tokens is None:
        return None
    prompt, completion = prompt_tokens or 0, completion_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def done_of(gen: LiveAnswer, status: str, note: str) -> Done:
    ending = gen.ending or Ending()
    usage = usage_of(ending.prompt_tokens, ending.completion_tokens)
    return Done(str(status), note, usage, gen.ttft_ms, ending.finish_reason, gen.duration_ms)


def done_of_row(msg: Message) -> Done:
    usage = usage_of(msg.prompt_tokens, msg.completion_tokens)
    return Done(str(msg.status), msg.error, usage, msg.ttft_ms, msg.finish_reason, msg.duration_ms)


def _news(gen: LiveAnswer, event: Published) -> Done | Status | None:
    """What a publisher event other than text says: how the answer ended, or its new phase."""
    if event.status is not None:
        return done_of(gen, event.status, event.detail)
    return Status(str(event.phase), event.detail, event.seconds) if event.phase else None


def _opening(gen: LiveAnswer, snap: PublishedSnapshot) -> tuple[Status | None, Done | None]:
    """A publisher snapshot's live phase while the answer runs, or how it ended."""
    if snap.status is None:
        return Status(str(snap.phase), snap.detail, snap.seconds), None
    return None, done_of(gen, snap.status, snap.detail)


def started_of(gen: LiveAnswer) -> Started:
    return Started(gen.message_id, gen.conversation_id, gen.run)


def listen(gen: LiveAnswer, listener: Listener) -> Following:
    """A running answer by callback, from its first character. Snapshot and registration are one step
    in the publisher, so no text falls between them or arrives twice. `unsubscribe` stops both the
    events and the save notices; an ended answer still sends `Saved` until then."""
    offset = 0

    def on_event(event: Published) -> None:
        nonlocal offset
        if event.delta:
            offset += len(event.delta)
            listener(Delta(event.delta, offset))
        elif (news := _news(gen, event)) is not None:
            listener(news)

    snap, unsubscribe = gen.publisher.subscribe(on_event)
    offset = len(snap.text)
    unwatch = gen.watch_saved(lambda saved: listener(Saved(saved)))

    def stop() -> None:
        unsubscribe()
        unwatch()

    live, done = _opening(gen, snap)
    snapshot = Snapshot(snap.text, offset, live)
    return Following(started_of(gen), snapshot, done, gen.started_at, gen.saved is not False, stop)


async def replay(msg: Message, after: int) -> AsyncIterator[AnswerEvent]:
    """A finished (stored) answer: the rest of its text, then its end."""
    yield Snapshot(msg.content[after:], max(after, len(msg.content)), None)
    yield done_of_row(msg)


class _Mailbox:
    """Collects a generation's events for one reader; coalesces while the reader is busy.

    With `idle_s`, one timer per `idle_s` (not one per wait: this runs for every batch of every answer
    an API client follows) checks whether anything came meanwhile, and if not hands out a ping."""

    def __init__(self, gen: LiveAnswer, idle_s: float | None) -> None:
        self.gen = gen
        self.items: list[list[str] | Status] = []  # text pieces of one pending delta, or a pending status
        self.done: Done | None = None
        self.wake = asyncio.Event()
        self.ping = False
        self._loop = asyncio.get_running_loop()
        self._idle_s = idle_s
        self._last = self._loop.time()
        self._timer = self._loop.call_later(idle_s, self._check) if idle_s else None

    def put(self, event: Published) -> None:
        if event.delta:
            if self.items and isinstance(self.items[-1], list):
                self.items[-1].append(event.delta)
            else:
                self.items.append([event.delta])
        elif isinstance(news := _news(self.gen, event), Done):
            self.done = news
        elif news is not None:
            if self.items and isinstance(self.items[-1], Status):
                self.items[-1] = news
            else:
                self.items.append(news)
        self.wake.set()

    def _check(self) -> None:
        assert self._idle_s is not None
        quiet = self._loop.time() - self._last
        if quiet >= self._idle_s and not self.items:
            self.ping = True
            self.wake.set()
            quiet = 0.0
        self._timer = self._loop.call_later(self._idle_s - quiet, self._check)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    async def take(self) -> list[str] | Status | Done | None:
        """The next item, or None for a ping."""
        while not self.items and self.done is None and not self.ping:
            self.wake.clear()
            await self.wake.wait()
        if self._timer is not None:
            self._last = self._loop.time()
        if self.items:
            return self.items.pop(0)
        if self.done is None:
            self.ping = False
        return self.done


async def follow(gen: LiveAnswer, after: int, idle_s: float | None = None) -> AsyncIterator[AnswerEvent | None]:
    """A running answer, from `after` on. Snapshot and registration are one step in the publisher,
    so no text falls between them or arrives twice. Leaving (or being cancelled) only unsubscribes.
    With `idle_s`, None after each `idle_s` seconds without an event (a stream's keep-alive ping)."""
    box = _Mailbox(gen, idle_s)
    snap, unsubscribe = gen.publisher.subscribe(box.put)
    try:
        offset = len(snap.text)
        live, done = _opening(gen, snap)
        yield Snapshot(snap.text[after:], max(offset, after), live)
        if done is not None:
            yield done
            return
        while True:
            item = await box.take()
            if item is None:
                yield None
            elif isinstance(item, list):
                text = "".join(item)
                start, offset = offset, offset + len(text)
                if offset > after:  # a reader ahead of the snapshot skips what it already has
                    yield Delta(text[max(0, after - start) :], offset)
            else:
                yield item
                if isinstance(item, Done):
                    return
    finally:
        unsubscribe()
        box.close()
