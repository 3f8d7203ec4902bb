"""The top of a long thread: older turns are loaded on demand, newest first (see load_earlier.js)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui


class LoadEarlier(ui.element, component="load_earlier.js"):
    """A "Load earlier messages" button that also fires when scrolled into view.

    The browser remembers where the turn being read was and puts it back there once the server has
    inserted the older turns above it (``on_load`` returns), so the reading position stays steady."""

    def __init__(self, on_load: Callable[[], Awaitable[None]], more: bool) -> None:
        super().__init__()
        self._on_load = on_load
        self._props["more"] = more
        self.on("load", self._load)

    def set_more(self, more: bool) -> None:
        """Whether older turns remain; the button hides when none do."""
        if self._props.get("more") != more:
            self._props["more"] = more
            self.update()

    async def _load(self) -> None:
        try:
            await self._on_load()
        finally:
            if not self.is_deleted:
                self.run_method("settle")
