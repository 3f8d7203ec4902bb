"""MarkdownView: a NiceGUI element that shows a streaming markdown answer in O(n).

Only patches travel over the websocket (``run_method('apply', …)``); the full HTML goes out in
props once, at construction and on ``reset``. The props are kept current *silently* (no update),
so a page rendered later, or a resync after a lost patch, starts from the right state; patches
carry a sequence number so the browser skips those already contained in the props it loaded.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass

from fastapi import Response
from nicegui import app, context, ui

from services.markdown import MarkdownStream, Patch, markdown_css

__all__ = ["MarkdownView", "add_markdown_assets"]

_CSS = markdown_css()
_CSS_URL = f"/_streamchat/markdown.css?v={hashlib.sha256(_CSS.encode()).hexdigest()[:12]}"
_pages_with_css: weakref.WeakSet = weakref.WeakSet()


@app.get("/_streamchat/markdown.css", include_in_schema=False)
def _markdown_css_route() -> Response:
    """The stylesheet, cacheable forever (the URL carries a content hash)."""
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=31536000, immutable"})


def add_markdown_assets() -> None:
    """Link the markdown stylesheet into the current page, once per page (the browser caches it)."""
    client = context.client
    if client in _pages_with_css:
        return
    _pages_with_css.add(client)
    ui.add_head_html(f'<link rel="stylesheet" href="{_CSS_URL}">')


@dataclass(frozen=True)
class _Rendered:
    """A finished text whose HTML was rendered earlier (kept in the database): nothing to parse."""

    text: str
    committed_html: str
    tail_html: str = ""
    finished: bool = True

    def html(self) -> str:
        return self.committed_html

    def feed(self, delta: str) -> Patch:
        raise RuntimeError("a finished MarkdownView cannot grow; reset() it first")

    def finish(self) -> Patch:
        return Patch()


class MarkdownView(ui.element, component="markdown_view.js"):
    """Sanitized markdown that grows by patches; ``reveal`` smooths bursty text on the client.

    ``html``: the text is finished and this is its rendered HTML (``render_markdown(text)``), so the
    view shows it as is instead of parsing the markdown again."""

    def __init__(self, text: str = "", *, html: str | None = None, reveal: bool = True, reveal_ms: int = 50) -> None:
        super().__init__()
        add_markdown_assets()
        self._stream: MarkdownStream | _Rendered = MarkdownStream(text) if html is None else _Rendered(text, html)
        self._seq = 0
        self._epoch = 0
        with self._props.suspend_updates():
            self._props["reveal"] = reveal
            self._props["revealMs"] = reveal_ms
            self._sync_props()
        self.on("resync", lambda _: self._resend())

    @property
    def text(self) -> str:
        """The markdown source shown so far."""
        return self._stream.text

    @property
    def finished(self) -> bool:
        """True once ``finish()`` was called (until the next ``reset``)."""
        return self._stream.finished

    def html(self) -> str:
        """The HTML the browser shows (committed blocks + open tail)."""
        return self._stream.html()

    def push(self, delta: str) -> None:
        """Append text and send only what changed."""
        self._send(self._stream.feed(delta))

    def finish(self) -> None:
        """The answer is complete: send the final patch (open blocks rendered exactly)."""
        self._send(self._stream.finish())

    def reset(self, text: str = "") -> None:
        """Replace everything (e.g. regenerate): one full-state props update."""
        self._stream = MarkdownStream(text)
        self._seq += 1
        self._resend()

    def _resend(self) -> None:
        """Send the full current state once (reset, or the browser reported a missing patch)."""
        self._epoch += 1
        with self._props.suspend_updates():
            self._sync_props()
            self._props["epoch"] = self._epoch
        self.update()

    def _sync_props(self) -> None:
        self._props["html"] = self._stream.committed_html
        self._props["tail"] = self._stream.tail_html
        self._props["seq"] = self._seq

    def _send(self, patch: Patch) -> None:
        if patch.empty:
            return
        self._seq += 1
        with self._props.suspend_updates():  # keep props current without sending them
            self._sync_props()
        message = patch.as_dict()
        message["n"] = self._seq
        self.run_method("apply", message)
