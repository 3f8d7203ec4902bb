"""An HTML attribute the server changes while the page runs (``data-status``, ``data-generating``):
tests and the page's own scripts read them, so each change goes out once, and only a change."""

from __future__ import annotations

from typing import Any

from nicegui import ui


def set_attribute(element: ui.element, name: str, value: Any) -> None:
    """Sends an update only on a change; None removes the attribute."""
    new = None if value is None else str(value)
    if element.props.get(name) != new:
        if new is None:
            del element.props[name]
        else:
            element.props[name] = new
        element.update()
