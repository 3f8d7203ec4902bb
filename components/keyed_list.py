"""A container whose children are built once per key and kept while what they show is unchanged.

Rebuilding a list on every change re-creates every child: the sidebar of 200 conversations, rebuilt
after each send, cost ~150 ms of event-loop time and 160 KB of websocket per send (bench/LOAD.md
"Session 8"). Here only children that are new or changed are built; the others are kept, and moved
by one update of the container's order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

from nicegui import ui

Entry = tuple[Hashable, Hashable, Callable[[], ui.element]]  # key, what it shows, how to build it


class KeyedList:
    """Owns the children of `container`: `show` replaces whatever else is in it."""

    def __init__(self, container: ui.element) -> None:
        self.container = container
        self._shown: dict[Hashable, tuple[Hashable, ui.element]] = {}

    def show(self, entries: Iterable[Entry]) -> None:
        """The children, in this order. A child whose key shows the same as before is kept as it is."""
        old: dict[Hashable, tuple[Hashable, ui.element]] = self._shown
        kept = {id(element) for _, element in old.values()}
        for child in list(self.container.default_slot.children):
            if id(child) not in kept:  # not ours (put there by `clear` callers): it goes
                self.container.remove(child)
        self._shown, order = {}, []
        with self.container:
            for key, shows, build in entries:
                was = old.pop(key, None)
                if was is None or was[0] != shows:
                    if was is not None:
                        self.container.remove(was[1])
                    was = (shows, build())
                self._shown[key] = was
                order.append(was[1])
        for _, element in old.values():
            self.container.remove(element)
        children = self.container.default_slot.children
        if children != order:
            children[:] = order
            self.container.update()

    def clear(self) -> None:
        """Empty the container, to put something else in it."""
        self.container.clear()
        self._shown = {}
