"""Markdown for chat answers: sanitized HTML, rendered in O(n) while an answer streams.

Public API (other modules code against these names):

* :func:`render_markdown` — full render of a text to sanitized HTML (the reference);
* :func:`markdown_css` — the stylesheet for rendered markdown and Pygments, light and dark;
* :class:`MarkdownStream` / :class:`Patch` — incremental rendering of one growing text, and the
  patches it sends (``apply_patch`` applies one as ``components/markdown_view.js`` does).

Modules: ``render`` (the reference renderer and sanitizer), ``stream`` (the incremental one),
``patch`` (the wire format), ``css`` (the stylesheet).
"""

from __future__ import annotations

from services.markdown.css import markdown_css
from services.markdown.patch import Patch, apply_patch
from services.markdown.render import render_markdown, sanitize
from services.markdown.stream import MarkdownStream

__all__ = ["MarkdownStream", "Patch", "apply_patch", "markdown_css", "render_markdown", "sanitize"]
