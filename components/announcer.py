"""A polite live region for screen readers, visually hidden: the page says things here once each."""

from __future__ import annotations

from nicegui import ui


class Announcer(ui.element):
    """Each `say` adds a line (an *addition* is read; the lines before it are not read again), and
    only the last few are kept, so a long answer leaves no long trail in the DOM."""

    KEEP = 5

    def __init__(self) -> None:
        super().__init__("div")
        self.classes("sr-only").props("aria-live=polite aria-relevant=additions data-testid=announcer")

    def say(self, text: str) -> None:
        if self.is_deleted or not text:
            return
        with self:
            ui.label(text)
        extra = len(self.default_slot.children) - self.KEEP
        for old in self.default_slot.children[: max(extra, 0)]:
            self.remove(old)
