"""MarkdownView: a NiceGUI element that shows a streaming markdown answer in O(n).

Only patches travel over the websocket (the browser's ``apply``, called as in
components/element_calls.py); the full HTML goes out in props once, at construction and on
``reset``. The props are kept current *silently* (no update), so a page rendered later, or a resync
after a lost patch, starts from the right state; patches carry a sequence number so the browser
skips those already contained in the props it loaded.

Rendering that may take long runs in a worker thread, not on the event loop: one answer's markdown
can cost a long single step (highlighting a 40 KB code block that just closed, the one exact render
at the end of an answer with reference links), and the loop must stay free for every other page.
A Python thread hands the GIL back every 5 ms, so the loop waits at most that long. Steps the
stream knows to be cheap (``MarkdownStream.light``: a small open tail, the usual case) run on the
loop, right in ``push`` when no render is under way: a thread hop, or a task, per flush and page
cost CPU and latency on a busy machine. Per view, text that arrives while a render runs is fed in
one go next (the slower the render, the fewer renders).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi import Response
from nicegui import app, background_tasks, context, ui

from components.element_calls import call_method
from components.paths import app_url
from services.markdown import MarkdownStream, Patch, markdown_css

__all__ = ["MarkdownView", "add_markdown_assets"]

_CSS = markdown_css()
_CSS_URL = f"/_streamchat/markdown.css?v={hashlib.sha256(_CSS.encode()).hexdigest()[:12]}"
_pages_with_css: weakref.WeakSet = weakref.WeakSet()
# Two threads: the GIL runs one at a time anyway; the second keeps one long render from queueing
# every other view behind it. The default executor is left to the database.
_RENDER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="markdown")


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
    ui.add_head_html(f'<link rel="stylesheet" href="{app_url(_CSS_URL)}">')


class MarkdownView(ui.element, component="markdown_view.js"):
    """Sanitized markdown that grows by patches; ``reveal`` smooths bursty text on the client.

    ``html``: the text is finished and this is its rendered HTML (``render_markdown(text)``), so the
    view shows it as is instead of parsing the markdown again."""

    def __init__(self, text: str = "", *, html: str | None = None, reveal: bool = True, reveal_ms: int = 50) -> None:
        super().__init__()
        add_markdown_assets()
        self._stream = MarkdownStream(text) if html is None else MarkdownStream.rendered(text, html)
        self._parts = [text]  # all text pushed, rendered or not yet
        self._todo: list[str | None] = []  # queued work: text to feed, None = finish
        self._reset_to: str | None = None  # queued reset (replaces the stream before the work above)
        self._finishing = html is not None
        self._pump: asyncio.Task[None] | None = None
        self._seq = 0
        self._epoch = 0
        with self._props.suspend_updates():
            self._props["reveal"] = reveal
            self._props["revealMs"] = reveal_ms
            self._sync_props()
        self.on("resync", lambda _: self._resend())

    @property
    def text(self) -> str:
        """All markdown source pushed so far (the browser shows it as soon as it is rendered)."""
        return "".join(self._parts)

    def push(self, delta: str) -> None:
        """Append text; only what changed is sent, once rendered."""
        if delta:
            self._parts.append(delta)
            self._queue(delta)

    def finish(self) -> None:
        """The answer is complete: send the final patch (open blocks rendered exactly)."""
        if not self._finishing:
            self._finishing = True
            self._queue(None)

    def reset(self, text: str = "") -> None:
        """Replace everything (e.g. regenerate): one full-state props update, once rendered."""
        self._parts, self._finishing = [text], False
        self._todo.clear()
        self._reset_to = text
        self._queue()

    def _queue(self, *work: str | None) -> None:
        """Light steps run right here when no render is under way (the usual flush: no task, no
        thread); the first heavy one, or a reset, starts the pump, which then takes the rest in order."""
        self._todo.extend(work)
        if self._pump is not None and not self._pump.done():
            return
        first = None
        while self._todo and self._reset_to is None and not self.is_deleted:
            stream, step, light = self._take()
            if not light:
                first = (stream, step)
                break
            self._deliver(stream, step())
        if first is not None or (self._reset_to is not None and not self.is_deleted):
            self._pump = background_tasks.create(self._render(first), name="markdown render")

    def _take(self) -> tuple[MarkdownStream, Callable[[], Patch], bool]:
        """The next step of queued work: the finish, or all text queued before it in one feed."""
        stream = self._stream
        if self._todo[0] is None:
            del self._todo[0]
            return stream, stream.finish, stream.light(final=True)
        n = self._todo.index(None) if None in self._todo else len(self._todo)
        delta = "".join(t for t in self._todo[:n] if t is not None)
        del self._todo[:n]
        return stream, functools.partial(stream.feed, delta), stream.light(delta)

    def _deliver(self, stream: MarkdownStream, patch: Patch) -> None:
        """Send a rendered step unless the view was reset or deleted while it rendered."""
        if stream is self._stream and self._reset_to is None and not self.is_deleted:
            self._send(patch)

    async def _render(self, first: tuple[MarkdownStream, Callable[[], Patch]] | None = None) -> None:
        """Render queued work in order, off the loop; text queued meanwhile is fed in one piece.

        The stream is touched by one thread at a time; props are only synced between steps, so a
        resync never sends a state half-way through a render."""
        loop = asyncio.get_running_loop()
        if first is not None:
            stream, step = first
            self._deliver(stream, await loop.run_in_executor(_RENDER, step))
        while (self._todo or self._reset_to is not None) and not self.is_deleted:
            if self._reset_to is not None:
                text, self._reset_to = self._reset_to, None
                fresh = await loop.run_in_executor(_RENDER, MarkdownStream, text)
                if self._reset_to is None and not self.is_deleted:  # not replaced again meanwhile
                    self._stream = fresh
                    self._seq += 1
                    self._sync_props()
                    self._resend()
                continue
            stream, step, light = self._take()
            self._deliver(stream, step() if light else await loop.run_in_executor(_RENDER, step))

    def _resend(self) -> None:
        """Send the full current state once (reset, or the browser reported a missing patch).

        The props already hold it: they are synced after every rendered step."""
        self._epoch += 1
        with self._props.suspend_updates():
            self._props["epoch"] = self._epoch
        self.update()

    def _sync_props(self) -> None:
        """Keep the props current without sending them. A plain dict write, past NiceGUI's change
        observers: ``suspend_updates`` still ran an observer per prop, four per flush and page."""
        dict.update(
            self._props,
            html=self._stream.committed_html,
            tail=self._stream.tail_html,
            seq=self._seq,
            final=self._stream.finished,
        )

    def _send(self, patch: Patch) -> None:
        if patch.empty:
            return
        self._seq += 1
        self._sync_props()
        message = patch.as_dict()
        message["n"] = self._seq
        call_method(self, "apply", message)
