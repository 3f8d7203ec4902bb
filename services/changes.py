"""Tells every open tab of an owner that their conversation list changed (renamed, pinned, deleted,
imported), so a second tab never shows a title that is gone or a link to a deleted conversation.

With several instances (services/cluster.py), `relay` passes each change on to the tabs of the
other instances, which hear it through `notify_here`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Changed:
    """`conversation_id` is None when several changed at once (an import)."""

    kind: str  # "renamed", "pinned", "deleted", "imported"
    conversation_id: str | None = None
    title: str = ""


Watcher = Callable[[Changed], None]


class Changes:
    def __init__(self) -> None:
        self._watchers: dict[str, set[Watcher]] = {}
        self.relay: Callable[[str, Changed], None] | None = None

    def watch(self, owner: str, callback: Watcher) -> Callable[[], None]:
        """The callback runs inside the change, so it must only schedule work. Returns the unwatch function."""
        self._watchers.setdefault(owner, set()).add(callback)

        def unwatch() -> None:
            watchers = self._watchers.get(owner, set())
            watchers.discard(callback)
            if not watchers:
                self._watchers.pop(owner, None)

        return unwatch

    def notify(self, owner: str, change: Changed) -> None:
        self.notify_here(owner, change)
        if self.relay is not None:
            self.relay(owner, change)

    def notify_here(self, owner: str, change: Changed) -> None:
        for callback in list(self._watchers.get(owner, ())):
            try:
                callback(change)
            except Exception:  # one broken tab must not keep the others from hearing
                log.exception("a conversation-list watcher failed")

    def count(self) -> int:
        return sum(len(w) for w in self._watchers.values())
