"""Markdown → sanitized HTML, one top-level block at a time.

Why blocks: the streaming renderer (``markdown_stream``) renders each finished top-level block once
and never again, so the reference renderer must be defined the same way — every top-level block is
rendered and sanitized on its own and the results are concatenated. That also keeps every block's
HTML balanced (an unclosed ``<div>`` in one block cannot swallow the next one).

Why sanitize here: NiceGUI's client-side DOMPurify lets ``<style>`` through. We clean on the server
with an nh3 allowlist, so every string that leaves this module is safe to put into ``innerHTML``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import unescapeAll
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

__all__ = [
    "Block",
    "TableParts",
    "closing_fence_re",
    "join_table",
    "make_md",
    "render_block_source",
    "render_list_item",
    "render_markdown",
    "render_table",
    "sanitize",
    "split_blocks",
    "structure_parse",
]

# ---------------------------------------------------------------------------------------------
# sanitizer
# ---------------------------------------------------------------------------------------------

_PYGMENTS_CLASSES = {c for c in STANDARD_TYPES.values() if c}
_ALIGN_CLASSES = {"md-al-left", "md-al-center", "md-al-right"}
_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre",
    "code", "em", "strong", "b", "i", "del", "s", "sub", "sup", "kbd", "a", "table", "thead",
    "tbody", "tr", "th", "td", "span", "div", "button",
}  # fmt: skip
# Removed together with their content: raw-text elements, whose content is code or markup, never
# prose. Other unknown tags (svg, math, object, ...) are dropped but keep their text, so an unclosed
# one cannot swallow the rest of the paragraph.
_CLEAN_CONTENT = {"script", "style", "iframe", "noscript", "template", "textarea", "title", "xmp", "noembed",
                  "noframes", "plaintext"}  # fmt: skip
_SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """Only http(s) image URLs may sit in ``data-src`` (nh3 does not treat data-* as URLs)."""
    if attr == "data-src" and not _SAFE_URL.match(value):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_CLEAN_CONTENT,
    attributes={
        "a": {"href", "title"},
        "ol": {"start"},
        "button": {"data-src", "data-alt", "title", "aria-label"},
    },
    attribute_filter=_attribute_filter,
    allowed_classes={
        "span": _PYGMENTS_CLASSES | {"md-code-lang"},
        "div": {"md-code", "md-code-head"},
        "pre": {"md-pre"},
        "button": {"md-copy", "md-img"},
        "th": _ALIGN_CLASSES,
        "td": _ALIGN_CLASSES,
    },
    set_tag_attribute_values={"a": {"target": "_blank"}, "button": {"type": "button"}},
    link_rel="noopener noreferrer",
    url_schemes={"http", "https", "mailto"},
    strip_comments=True,
)


# A one-word attribute value needs no quotes in HTML, and every quote costs 4 bytes once NiceGUI has
# wrapped a patch in a JavaScript string inside JSON (highlighted code is mostly `<span class="k">`).
# Only tags are touched: serialized text never holds a raw `<`, so `<tag …>` cannot start in text.
_TAG = re.compile(r"<[A-Za-z][^<>]*>")
_QUOTED_WORD = re.compile(r'="([A-Za-z0-9_-]+)"')


def _unquote_words(tag: re.Match[str]) -> str:
    return _QUOTED_WORD.sub(r"=\1", tag.group(0))


def sanitize(fragment: str) -> str:
    """Allowlist-clean one HTML fragment (no scripts, styles, handlers, unsafe URLs)."""
    return _TAG.sub(_unquote_words, _CLEANER.clean(fragment))


# ---------------------------------------------------------------------------------------------
# markdown-it setup
# ---------------------------------------------------------------------------------------------

_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=128)
def _lexer(lang: str) -> Any:
    """Lexer by alias; unknown languages are shown as plain text (guessing is slow and unstable)."""
    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False) if lang else None
    except ClassNotFound:
        return None


def code_head(lang: str) -> str:
    """Header bar of a code block: language label and the Copy button (read by the client JS)."""
    label = html.escape(lang or "text")
    return (
        f'<div class="md-code"><div class="md-code-head"><span class="md-code-lang">{label}</span>'
        '<button type="button" class="md-copy" aria-label="Copy">Copy</button></div>'
        '<pre class="md-pre"><code>'
    )


CODE_FOOT = "</code></pre></div>\n"


def fence_lang(info: str) -> str:
    """First word of a fence info string, as markdown-it takes it."""
    info = unescapeAll(info).strip() if info else ""
    return info.split(maxsplit=1)[0] if info else ""


def _render_code(code: str, lang: str) -> str:
    lexer = _lexer(lang.lower())
    body = highlight(code, lexer, _FORMATTER) if lexer is not None else html.escape(code, quote=False)
    return code_head(lang) + body + CODE_FOOT


def _fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    return _render_code(tok.content, fence_lang(tok.info))


def _code_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _render_code(tokens[idx].content, "")


def image_placeholder(url: str, alt: str) -> str:
    """A click-to-load stand-in: remote images are never fetched without a click (exfiltration)."""
    alt_text = html.escape(alt or "image")
    if not _SAFE_URL.match(url):
        return f'<span class="md-img-off">🖼 {alt_text}</span>'
    host = html.escape(urlsplit(url).hostname or "?")
    return (
        f'<button type="button" class="md-img" data-src="{html.escape(url)}" '
        f'data-alt="{html.escape(alt)}" title="Load image from {host}">'
        f"🖼 {alt_text} — {host} (click to load)</button>"
    )


def _image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    alt = self.renderInlineAsText(tok.children or [], options, env)
    return image_placeholder(str(tok.attrGet("src") or ""), alt)


_ALIGN_RE = re.compile(r"text-align:(left|center|right)")


def _table_align_to_class(state: StateCore) -> None:
    """markdown-it aligns cells with ``style=``; we forbid style attributes, so use classes."""
    for tok in state.tokens:
        if tok.type in ("th_open", "td_open") and tok.attrs.get("style"):
            m = _ALIGN_RE.search(str(tok.attrs.pop("style")))
            if m:
                tok.attrSet("class", f"md-al-{m.group(1)}")


def make_md() -> MarkdownIt:
    """CommonMark + tables + strikethrough, HTML allowed (it is sanitized afterwards)."""
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("md_table_align", _table_align_to_class)
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _code_block)
    md.add_render_rule("image", _image)
    return md


_MD = make_md()
# Block structure only (no inline parsing): cheap, used to find top-level block boundaries.
_MD_STRUCT = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
_MD_STRUCT.disable(["inline", "text_join"])


# ---------------------------------------------------------------------------------------------
# blocks
# ---------------------------------------------------------------------------------------------


class Block:
    """One top-level block: token slice ``[start, end)`` and its first source line."""

    __slots__ = ("end", "line", "start", "type")

    def __init__(self, start: int, end: int, line: int, type_: str) -> None:
        self.start, self.end, self.line, self.type = start, end, line, type_

    def __repr__(self) -> str:
        return f"Block({self.type}@{self.line})"


def split_blocks(tokens: Sequence[Token]) -> list[Block]:
    """Group a token stream into top-level blocks (level-0 open … matching close)."""
    blocks: list[Block] = []
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        start = i
        if tok.nesting == 1:
            i += 1
            while not (tokens[i].level == 0 and tokens[i].nesting == -1):
                i += 1
        i += 1
        line = tok.map[0] if tok.map else (blocks[-1].line if blocks else 0)
        blocks.append(Block(start, i, line, tok.type))
    return blocks


def normalize(text: str) -> str:
    """The same newline/NUL normalization markdown-it applies, so line numbers agree."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def structure_parse(src: str) -> tuple[list[Token], list[Block], bool]:
    """Block-only parse: tokens, top-level blocks, and whether reference definitions exist."""
    env: dict[str, Any] = {}
    tokens = _MD_STRUCT.parse(src, env)
    return tokens, split_blocks(tokens), bool(env.get("references"))


def _render_tokens(tokens: Sequence[Token], env: dict[str, Any]) -> str:
    return _MD.renderer.render(tokens, _MD.options, env)


def render_markdown(text: str) -> str:
    """Full render of text to sanitized HTML (the reference): blocks rendered and cleaned one by one."""
    env: dict[str, Any] = {}
    tokens = _MD.parse(normalize(text), env)
    return "".join(sanitize(_render_tokens(tokens[b.start : b.end], env)) for b in split_blocks(tokens))


def render_block_source(src: str, hidden: bool | None = None) -> str:
    """Render the source of whole top-level block(s) without reference definitions.

    ``hidden`` forces list tightness (paragraphs at level 2 hidden or not); used by the stream to
    render list items on their own.
    """
    env: dict[str, Any] = {}
    tokens = _MD.parse(src, env)
    if hidden is not None:
        for tok in tokens:
            if tok.level == 2 and tok.type in ("paragraph_open", "paragraph_close"):
                tok.hidden = hidden
    return "".join(sanitize(_render_tokens(tokens[b.start : b.end], env)) for b in split_blocks(tokens))


def render_list_item(src: str, tight: bool) -> tuple[str, str, str]:
    """(list open tag, item HTML, list close tag) of one list item's source rendered on its own.

    Unsanitized: the caller assembles the whole list and sanitizes it once. ``tight`` forces the
    tightness of the whole list (a lone item cannot know whether its siblings are loose).
    """
    tokens = _MD.parse(src, {})
    for tok in tokens:
        if tok.level == 2 and tok.type in ("paragraph_open", "paragraph_close"):
            tok.hidden = tight
    r = _MD.renderer
    out = r.render(tokens, _MD.options, {})
    open_html = r.renderToken(tokens, 0, _MD.options, {})
    close_html = r.renderToken(tokens, len(tokens) - 1, _MD.options, {})
    return open_html, out[len(open_html) : len(out) - len(close_html)], close_html


class TableParts(NamedTuple):
    """A table rendered in parts: see :func:`render_table`."""

    head: str  # <table> through </thead>, unsanitized
    rows: list[str]  # each body row's <tr>…</tr>, unsanitized
    lines: int  # source lines the table spans
    columns: int
    safe: tuple[str, list[str]] | None  # head and rows sanitized, None if raw HTML is in the table


def render_table(src: str) -> TableParts | None:
    """Parts of the table that src starts with; None unless that table is src's only block.

    A body row renders the same under any table with the same header and delimiter lines (up to
    markdown-it's limit on filled-in cells), so the stream renders each finished row once and joins
    the parts with :func:`join_table`. Without raw HTML the sanitizer keeps each row as it is too
    (``safe``); raw HTML in one cell (``<textarea>``, ``</table>``) can change how the rest of the
    table is sanitized, so then only the whole table may be.
    """
    env: dict[str, Any] = {}
    tokens = _MD.parse(src, env)
    blocks = split_blocks(tokens)
    if len(blocks) != 1 or blocks[0].type != "table_open":
        return None
    r = _MD.renderer
    head_end = next(i for i, t in enumerate(tokens) if t.type == "thead_close") + 1
    rows: list[str] = []
    start = head_end
    for i in range(head_end, len(tokens)):
        if tokens[i].type == "tr_open":
            start = i
        elif tokens[i].type == "tr_close":
            rows.append(r.render(tokens[start : i + 1], _MD.options, env))
    head = r.render(tokens[:head_end], _MD.options, env)
    columns = sum(t.type == "th_open" for t in tokens[:head_end])
    raw_html = any(c.type == "html_inline" for t in tokens if t.children for c in t.children)
    return TableParts(head, rows, tokens[0].map[1], columns, None if raw_html else _sanitize_parts(head, rows))


def join_table(head: str, rows: str) -> str:
    """A table's HTML from its head and its body rows' HTML, as markdown-it joins them."""
    return head + (f"<tbody>\n{rows}</tbody>\n" if rows else "") + "</table>\n"


def _sanitize_parts(head: str, rows: list[str]) -> tuple[str, list[str]] | None:
    """Sanitize a table once and cut the result into head and rows (None if it does not cut so)."""
    whole = sanitize(join_table(head, "".join(rows)))
    head_s, _, body = whole.partition("<tbody>\n") if rows else (whole.removesuffix("</table>\n"), "", "")
    rows_s = [row + "</tr>\n" for row in body.split("</tr>\n")[:-1]]
    ok = len(rows_s) == len(rows) and join_table(head_s, "".join(rows_s)) == whole
    return (head_s, rows_s) if ok else None


@lru_cache(maxsize=64)
def closing_fence_re(char: str, length: int) -> re.Pattern[str]:
    """A line that closes a fence opened with ``length`` × ``char`` (as markdown-it decides)."""
    return re.compile(rf" {{0,3}}{re.escape(char)}{{{length},}}[ \t]*")
