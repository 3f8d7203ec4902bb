"""A polite live region for screen readers, visually hidden: the page says things here once each."""

from __future__ import annotations

from nicegui import ui


class Announcer(ui.element, component="announcer.js"):
    """Each `say` adds a line (an *addition* is read; the lines before it are not read again), and
    only the last few are kept, so a long answer leaves no long trail in the DOM. The lines live in
    the browser only (announcer.js): they are said once, not part of what a reload shows."""

    KEEP = 5

    def __init__(self) -> None:
        super().__init__()
        self._props["keep"] = self.KEEP

    def say(self, text: str) -> None:
        if self.is_deleted or not text:
            return
        self.run_method("say", text)
