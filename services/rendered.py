"""Finished answers are rendered once and their HTML kept, so opening a thread parses no markdown.

Rendering ~3 KB of markdown costs milliseconds; a thread of hundreds of answers rendered on the
event loop stalled every user for seconds. Here the HTML is read from the `rendered_answer` table;
what is missing or stale is rendered in a worker thread, a bounded batch per hop, and saved.
An answer is rendered when a thread showing it is first opened, not when it finishes: most are
never opened again (read through the API, or on the page that streamed and rendered them), and
rendering each at its end cost 4 % of the server's CPU under 100 concurrent API streams.

A cached row is valid while both its renderer version and the digest of the message text match.
The version is derived from the source of the `services/markdown` package and the versions of the libraries that
shape the HTML, so changing the renderer invalidates the cache without anyone remembering to.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

from services import markdown
from services.markdown import render_markdown
from services.models import Message, RenderedAnswer, Role, Status
from services.store import Store

__all__ = ["RENDERER_VERSION", "RenderedHtml", "digest", "markdown_sources", "renderer_version"]

log = logging.getLogger(__name__)

_LIBRARIES = ("markdown-it-py", "mdit-py-plugins", "nh3", "pygments")
# Markdown source rendered per worker-thread hop: ~10-30 ms of work, so results arrive steadily and
# the thread gives the GIL back to the event loop between batches.
BATCH_CHARS = 24_000


def markdown_sources() -> list[Path]:
    """The renderer's own code: every module of the `services/markdown` package."""
    return sorted(Path(markdown.__file__).resolve().parent.glob("*.py"))


def renderer_version(sources: Iterable[Path] | None = None) -> str:
    """Hash of the markdown package's modules plus the versions of the libraries they use."""
    h = hashlib.sha256()
    for path in sorted(sources if sources is not None else markdown_sources()):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for lib in _LIBRARIES:
        try:
            h.update(f"{lib}={metadata.version(lib)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib}=-\0".encode())
    return h.hexdigest()[:16]


RENDERER_VERSION = renderer_version()


def digest(text: str) -> str:
    """Identifies the markdown source (a retry rewrites an answer's text in place)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _batches(messages: list[Message]) -> Iterator[list[Message]]:
    batch: list[Message] = []
    size = 0
    for m in messages:
        if batch and size + len(m.content) > BATCH_CHARS:
            yield batch
            batch, size = [], 0
        batch.append(m)
        size += len(m.content)
    if batch:
        yield batch


def _render_all(texts: list[str]) -> list[str]:
    return [render_markdown(t) for t in texts]


class RenderedHtml:
    """Owner-scoped cache of finished answers' HTML; the store keeps the rows."""

    def __init__(self, store: Store, version: str = RENDERER_VERSION) -> None:
        self.store = store
        self.version = version

    async def html_for(self, owner: str, messages: list[Message]) -> dict[int, str]:
        """HTML of the finished answers among `messages`, by id; renders and saves what is missing."""
        finished = [m for m in messages if m.role == Role.ASSISTANT and m.id is not None and Status(m.status).final]
        cached = await self.store.get_rendered(owner, [m.id for m in finished if m.id is not None])
        html: dict[int, str] = {}
        missing: list[Message] = []
        for m in finished:
            assert m.id is not None
            row = cached.get(m.id)
            if row is not None and row.renderer == self.version and row.digest == digest(m.content):
                html[m.id] = row.html
            else:
                missing.append(m)
        fresh: list[RenderedAnswer] = []
        for batch in _batches(missing):
            for m, out in zip(batch, await asyncio.to_thread(_render_all, [m.content for m in batch]), strict=True):
                assert m.id is not None
                html[m.id] = out
                fresh.append(self._row(owner, m.id, m.content, out))
        await self._save(owner, fresh)
        return html

    async def _save(self, owner: str, rows: list[RenderedAnswer]) -> None:
        """The cache only saves time: failing to write it must not fail opening a thread."""
        try:
            await self.store.save_rendered(owner, rows)
        except Exception as exc:  # e.g. the database is locked; the HTML is rendered again next time
            log.warning("could not cache rendered HTML of %d answer(s): %s", len(rows), exc)

    def _row(self, owner: str, message_id: int, text: str, html: str) -> RenderedAnswer:
        return RenderedAnswer(message_id=message_id, owner=owner, renderer=self.version, digest=digest(text), html=html)
