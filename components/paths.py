"""Links to the app's own pages as the browser must write them: behind a proxy that serves the app
under a prefix (`--root-path /chat`), `/c/…` is `/chat/c/…`. NiceGUI adds the prefix to its own
URLs, `ui.navigate.to` and `ui.link`, not to history entries or head HTML."""

from __future__ import annotations

from nicegui import context


def app_url(path: str) -> str:
    """`path` (absolute, starting with /) under the current page's root path."""
    return context.client.request.scope.get("root_path", "") + path
