"""Markdown for chat answers: sanitized HTML, rendered in O(n) while an answer streams.

Public API (other modules code against these names):

* :func:`render_markdown` — full render of a text to sanitized HTML (the reference);
* :func:`markdown_css` — the stylesheet for rendered markdown and Pygments, light and dark;
* :class:`MarkdownStream` / :class:`Patch` — incremental rendering of one growing text.
"""

from __future__ import annotations

from services.markdown_css import markdown_css
from services.markdown_render import render_markdown, sanitize
from services.markdown_stream import MarkdownStream, Patch, apply_patch

__all__ = ["MarkdownStream", "Patch", "apply_patch", "markdown_css", "render_markdown", "sanitize"]
