"""A polite live region for screen readers, visually hidden: the page says things here once each."""

from __future__ import annotations

import asyncio

from nicegui import ui

from components.element_calls import call_method


class Announcer(ui.element, component="announcer.js"):
    """Each `say` adds a line (an *addition* is read; the lines before it are not read again), and
    only the last few are kept, so a long answer leaves no long trail in the DOM. The lines live in
    the browser only (announcer.js): they are said once, not part of what a reload shows.

    Lines leave at most once per `EVERY_S`, those said meanwhile together: a message per finished
    sentence was a third of the websocket messages of a streaming answer, each one more task for the
    page. A screen reader reads a polite region after the current utterance anyway."""

    KEEP = 5
    EVERY_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._props["keep"] = self.KEEP
        self._pending: list[str] = []
        self._last = -1e9
        self._timer: asyncio.TimerHandle | None = None

    def say(self, text: str) -> None:
        if self.is_deleted or not text:
            return
        self._pending.append(text)
        if self._timer is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last + self.EVERY_S - loop.time()
        if wait <= 0:
            self._flush()
        else:
            self._timer = loop.call_later(wait, self._flush)

    def _flush(self) -> None:
        self._timer = None
        lines, self._pending = self._pending, []
        if lines and not self.is_deleted:
            self._last = asyncio.get_running_loop().time()
            call_method(self, "say", lines[-self.KEEP :])
