"""Markdown → sanitized HTML, one top-level block at a time.

Why blocks: the streaming renderer (``stream.py``) renders each finished top-level block once
and never again, so the reference renderer must be defined the same way — every top-level block is
rendered and sanitized on its own and the results are concatenated. That also keeps every block's
HTML balanced (an unclosed ``<div>`` in one block cannot swallow the next one).

Why sanitize here: NiceGUI's client-side DOMPurify lets ``<style>`` through. We clean on the server
with an nh3 allowlist, so every string that leaves this module is safe to put into ``innerHTML``.

Our own widgets (a code block's Copy button, click-to-load image placeholders) are not in that
allowlist: no ``button``, no ``md-*`` class, no ``data-*`` attribute gets through from the model's
raw HTML (a forged ``button.md-img`` labelled "Copy" once fetched an attacker's URL on click). The
render rules emit a *marker* instead — the widget's inputs, base64-encoded between two private-use
characters that model text can never hold (``normalize`` replaces them) — and ``sanitize`` turns
each marker into the widget's HTML after cleaning.
"""

from __future__ import annotations

import base64
import html
import importlib
import json
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
    "MAX_AUTOCOMPLETED_CELLS",
    "Block",
    "Refs",
    "TableParts",
    "closing_fence_re",
    "highlight_code",
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
    "tbody", "tr", "th", "td", "span", "div",
}  # fmt: skip
# `img` is let through only to be replaced by a click-to-load placeholder (`_raw_images`), like `![alt](src)`.
_TAGS_AND_IMG = _TAGS | {"img"}
# Removed together with their content: raw-text elements, whose content is code or markup, never
# prose. Other unknown tags (svg, math, object, ...) are dropped but keep their text, so an unclosed
# one cannot swallow the rest of the paragraph.
_CLEAN_CONTENT = {"script", "style", "iframe", "noscript", "template", "textarea", "title", "xmp", "noembed",
                  "noframes", "plaintext"}  # fmt: skip
_SAFE_URL = re.compile(r"^https?://", re.IGNORECASE)


# Kept on model HTML on purpose: Pygments' token classes only colour text, and the alignment
# classes (which our table rule puts on markdown tables) only align it; neither is read by our code.
_CLEANER = nh3.Cleaner(
    tags=_TAGS_AND_IMG,
    clean_content_tags=_CLEAN_CONTENT,
    attributes={"a": {"href", "title"}, "ol": {"start"}, "img": {"src", "alt"}},
    allowed_classes={"span": _PYGMENTS_CLASSES, "th": _ALIGN_CLASSES, "td": _ALIGN_CLASSES},
    set_tag_attribute_values={"a": {"target": "_blank"}},
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


def _compact(html_: str) -> str:
    return _TAG.sub(_unquote_words, html_)


# A widget marker: "\ue000" kind base64(JSON inputs) "\ue001". nh3 keeps text as it is, and base64
# has no character it would escape.
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"
_MARKER = re.compile(f"{_MARK_OPEN}([a-z])([A-Za-z0-9_=-]*){_MARK_CLOSE}")


def _marker(kind: str, *inputs: str) -> str:
    return f"{_MARK_OPEN}{kind}{base64.urlsafe_b64encode(json.dumps(inputs).encode()).decode()}{_MARK_CLOSE}"


def _widget(m: re.Match[str]) -> str:
    a, b = json.loads(base64.urlsafe_b64decode(m.group(2)))
    return _render_code(b, a) if m.group(1) == "c" else image_placeholder(a, b)


# In nh3's output every attribute value is double-quoted with `"` escaped and text never holds a raw
# `<`, so this matches whole tags only: an `<img` inside another tag's attribute value is part of that
# tag's match, never a tag of its own.
_SERIALIZED_TAG = re.compile(r'<[A-Za-z/][^"<>]*(?:"[^"]*"[^"<>]*)*>')
_SERIALIZED_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')


def _raw_image(tag: re.Match[str]) -> str:
    text = tag.group(0)
    if not text.startswith(("<img ", "<img>")):
        return text
    attrs = {name: html.unescape(value) for name, value in _SERIALIZED_ATTR.findall(text)}
    return image_placeholder(attrs.get("src", ""), attrs.get("alt", ""))


def _raw_images(clean: str) -> str:
    """A raw `<img>` the model wrote gets the same click-to-load placeholder as `![alt](src)`."""
    return _SERIALIZED_TAG.sub(_raw_image, clean) if "<img" in clean else clean


def sanitize(fragment: str) -> str:
    """Allowlist-clean one HTML fragment (no scripts, styles, handlers, unsafe URLs, none of our
    widgets), then put in the widgets our render rules asked for."""
    clean = _compact(_raw_images(_CLEANER.clean(fragment)))
    return _MARKER.sub(_widget, clean) if _MARK_OPEN in clean else clean


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
    """Header bar of a code block: language label and the Copy button (read by the client JS).

    Trusted HTML, never sanitized: written in the sanitizer's compact form."""
    label = html.escape(lang or "text", quote=False)
    return (
        f"<div class=md-code><div class=md-code-head><span class=md-code-lang>{label}</span>"
        "<button type=button class=md-copy aria-label=Copy>Copy</button></div><pre class=md-pre><code>"
    )


CODE_FOOT = "</code></pre></div>\n"


def fence_lang(info: str) -> str:
    """First word of a fence info string, as markdown-it takes it."""
    info = unescapeAll(info).strip() if info else ""
    return info.split(maxsplit=1)[0] if info else ""


def highlight_code(code: str, lang: str) -> str:
    """Code as HTML, coloured by `lang`'s lexer (plain when unknown); balanced, safe, compact."""
    lexer = _lexer(lang.lower())
    return _compact(highlight(code, lexer, _FORMATTER)) if lexer is not None else html.escape(code, quote=False)


def _render_code(code: str, lang: str) -> str:
    return code_head(lang) + highlight_code(code, lang) + CODE_FOOT


def _fence(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    return _marker("c", fence_lang(tok.info), tok.content)


def _code_block(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _marker("c", "", tokens[idx].content)


def image_placeholder(url: str, alt: str) -> str:
    """A click-to-load stand-in: remote images are never fetched without a click (exfiltration).

    Trusted HTML, never sanitized: ``data-src`` is an http(s) URL or there is no button."""
    alt_text = html.escape(alt or "image", quote=False)
    if not _SAFE_URL.match(url):
        return f"<span class=md-img-off>🖼 {alt_text}</span>"
    host = html.escape(urlsplit(url).hostname or "?")
    return (
        f'<button type=button class=md-img data-src="{html.escape(url)}" '
        f'data-alt="{html.escape(alt)}" title="Load image from {host}">'
        f"🖼 {alt_text} — {host} (click to load)</button>"
    )


def _image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    alt = self.renderInlineAsText(tok.children or [], options, env)
    return _marker("i", str(tok.attrGet("src") or ""), alt)


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


# markdown-it ends a table once it has filled in this many missing cells (its default, 65,536, let
# a 3 KB answer — a 300-column header, then short rows — render 65,536 cells: 5 s of CPU). The rule
# reads the module's constant at every call; ours is the only markdown-it in the process.
MAX_AUTOCOMPLETED_CELLS = 4096
# (``import markdown_it.rules_block.table`` would give the rule function the package re-exports.)
importlib.import_module("markdown_it.rules_block.table").MAX_AUTOCOMPLETED_CELLS = MAX_AUTOCOMPLETED_CELLS

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


_NOT_TEXT = str.maketrans({"\0": "\ufffd", _MARK_OPEN: "\ufffd", _MARK_CLOSE: "\ufffd"})


def normalize(text: str) -> str:
    """The same newline/NUL normalization markdown-it applies, so line numbers agree; also makes
    sure the text holds no widget marker character."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_NOT_TEXT)


Refs = dict[str, Any]  # markdown-it's reference definitions by normalized label: {"href", "title"}


def _env(refs: Refs | None) -> dict[str, Any]:
    """A parse environment that already knows ``refs`` (a copy: parsing adds the ones it finds)."""
    return {"references": dict(refs)} if refs else {}


def structure_parse(src: str, refs: Refs | None = None) -> tuple[list[Token], list[Block], Refs]:
    """Block-only parse: tokens, top-level blocks, and the reference definitions known after it
    (``refs`` first: the first definition of a label wins, as in one parse of the whole text)."""
    env = _env(refs)
    tokens = _MD_STRUCT.parse(src, env)
    return tokens, split_blocks(tokens), env.get("references", {})


def _render_tokens(tokens: Sequence[Token], env: dict[str, Any]) -> str:
    return _MD.renderer.render(tokens, _MD.options, env)


def render_markdown(text: str) -> str:
    """Full render of text to sanitized HTML (the reference): blocks rendered and cleaned one by one."""
    env: dict[str, Any] = {}
    tokens = _MD.parse(normalize(text), env)
    return "".join(sanitize(_render_tokens(tokens[b.start : b.end], env)) for b in split_blocks(tokens))


def render_block_source(src: str, refs: Refs | None = None) -> str:
    """Render the source of whole top-level block(s); links may use ``refs`` (defined elsewhere)."""
    env = _env(refs)
    tokens = _MD.parse(src, env)
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


def render_table(src: str, refs: Refs | None = None) -> TableParts | None:
    """Parts of the table that src starts with; None unless that table is src's only block. Links
    may use ``refs`` (defined elsewhere).

    A body row renders the same under any table with the same header and delimiter lines (up to
    markdown-it's limit on filled-in cells), so the stream renders each finished row once and joins
    the parts with :func:`join_table`. Without raw HTML the sanitizer keeps each row as it is too
    (``safe``); raw HTML in one cell (``<textarea>``, ``</table>``) can change how the rest of the
    table is sanitized, so then only the whole table may be.
    """
    env = _env(refs)
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
