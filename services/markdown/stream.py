"""Incremental markdown rendering for one growing text (an answer being streamed).

The client holds *committed* HTML (finished top-level blocks, append-only) and a *tail* (the open
blocks at the end). Each ``feed`` returns a small :class:`~services.markdown.patch.Patch` (the wire
format, in ``patch.py``): a ``reset`` at most once, in the final patch (see *approximations*
below); a ``move`` of tail HTML that became final as shown; a ``commit`` of a block whose final
HTML differs from what the tail showed (e.g. a code block highlighted once it closes); a
``splice`` of the tail.

Why this costs O(n):

* a top-level block is *finished* once a later top-level block has started on a complete line
  (for tables: once their delimiter row is complete too); finished blocks are rendered exactly
  once and usually cost nothing to send (``move``);
* only the tail is parsed again per feed, and the tail is sent as a common-prefix/suffix splice;
* an open fenced code block shows its open line as escaped text, appended as it grows, and
  highlights each line once, when it is complete (so colour is at most one line behind); the block
  is rendered exactly once more when it closes. The lines that complete together are lexed together
  from the lexer's start state, so a construct spanning flushes (a docstring) may be coloured
  differently until the block closes;
* an open top-level list re-parses only its last item, not the whole list;
* an open top-level table renders and sanitizes each finished row once and re-parses only its last
  line, under its header and delimiter lines (raw HTML in a cell: the whole table is sanitized);
* an open top-level paragraph, or a one-line last item of an open tight list, whose line grows by
  plain text (letters, digits, spaces, a few marks markdown gives no meaning) is not parsed at all:
  the text is appended as it is. Most of a model's prose arrives so, a word or two per flush.

The displayed tail may differ from the exact render while it is open (code colours, list tightness);
``finish()`` always ends with exactly ``render_markdown(text)``.

Work per feed stays bounded whatever the markdown (one answer must not stall the server). Two
*approximations* keep it so, each paid for by one exact render of the whole text in ``finish()``:

* reference definitions (``[r]: url``, also ``[^1]: …``) resolve across the whole text. A block is
  committed rendered with the definitions known at that time; if they change after a block that
  may use them was committed, the final patch resets to one exact full render;
* an open region longer than ``WINDOW`` characters (fewer when deeply nested) or ``WINDOW_TOKENS``
  block tokens (an endless paragraph, raw HTML soup, deep nesting, a table past the cell limit)
  is shown as escaped text from then on, in windows of about ``WINDOW`` characters committed one
  by one. Rendering a window as markdown was tried: its cost is
  not bounded by its size (a short window under a wide table header fills in thousands of cells).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from services.markdown.patch import Patch, diff, u16len
from services.markdown.render import (
    CODE_FOOT,
    MAX_AUTOCOMPLETED_CELLS,
    Refs,
    closing_fence_re,
    code_head,
    fence_lang,
    highlight_code,
    join_table,
    normalize,
    render_block_source,
    render_list_item,
    render_markdown,
    render_table,
    sanitize,
    structure_parse,
)

__all__ = ["LIGHT", "WINDOW", "MarkdownStream"]

WINDOW = 4096  # characters of open text re-rendered per feed at most (about 5 ms on this machine)
WINDOW_TOKENS = 2000  # block tokens, the same for what costs more per character (a wide table's cells)
_FENCE_MARKS = ("```", "~~~")
LIGHT = 8192  # characters of open text: a feed over no more than this is cheap (a few ms)
LIGHT_TABLE = 1024  # the same while a table is open: its cells cost ~10 ms per KB to render
LIGHT_TOKENS = 1500  # block tokens in the open text at the last parse (~3 µs each to render)
LIGHT_CODE = 1024  # characters of open code lines a step may highlight (~5 µs each)


def _line_offsets(src: str) -> list[int]:
    return [0, *(m.end() for m in re.finditer("\n", src))]


_BLANK = re.compile(r"[ \t]*$")


@dataclass
class _Fence:
    """An open top-level fenced code block: complete lines are highlighted once, the open one is plain."""

    char: str
    length: int
    indent: int
    lang: str
    line_off: int  # absolute offset of the open line (the first one not complete)
    open_text: str = ""  # that line as shown, escaped, at the end of the tail just before CODE_FOOT
    open_len: int = 0  # its HTML's length there, in characters
    open_u16: int = 0  # and in UTF-16 units
    closing: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.closing = closing_fence_re(self.char, self.length)

    def strip(self, line: str) -> str:
        """Remove the fence's indentation from a content line (as markdown-it does, near enough)."""
        lead = len(line) - len(line.lstrip(" "))
        return line[min(lead, self.indent) :]

    def holds(self, partial: str) -> bool:
        """A partial line that may still become the closing fence is not shown yet."""
        rest = partial.lstrip(" ")
        return len(partial) - len(rest) <= 3 and (not rest or rest[0] == self.char)

    def show_open(self, text: str) -> str:
        """Sets the open line; its HTML."""
        html = _escape(text)
        self.open_text, self.open_len, self.open_u16 = text, len(html), u16len(html)
        return html

    def grow(self, text: str) -> str:
        """The open line got longer (`text` starts with what is shown): the HTML to append."""
        html = _escape(text[len(self.open_text) :])
        self.open_text, self.open_len, self.open_u16 = text, self.open_len + len(html), self.open_u16 + u16len(html)
        return html


@dataclass
class _List:
    """An open top-level list: finished items are rendered once, only the last is re-parsed."""

    kind: str
    open_html: str
    close_html: str
    item_off: int  # absolute offset of the last item's first line
    tight: bool
    items_src: list[str] = field(default_factory=list)
    items_raw: list[str] = field(default_factory=list)
    prefix_raw: str = ""
    plain: _Plain | None = None  # the last item, while it is one line of plain text


@dataclass
class _Table:
    """An open top-level table: finished rows are rendered once, only the last line is re-parsed."""

    head_src: str  # header and delimiter lines: each re-parse puts them above the new lines
    row_off: int  # absolute offset of the first line not rendered for good
    raw: str = ""  # finished rows' HTML
    safe: str | None = ""  # the same rows sanitized one by one; None once raw HTML is in the table
    n_rows: int = 0


@dataclass
class _Plain:
    """The open tail ends in a line, begun with a letter, that so far only grew by plain text: more
    of it is shown by inserting it before ``foot``, the HTML that closes the line's elements."""

    start: int  # offset in _src of the paragraph or item: past WINDOW, its own path bounds the work
    end: int  # offset in _src up to which the tail shows the text
    spaces: int  # trailing spaces of the text, not shown yet (markdown trims a paragraph's end)
    foot: str


# Text that cannot change how the paragraph or list item before it parses, nor parse as anything but itself: no
# delimiter, bracket, quote (a link title), entity end, backslash, tag or line break; nothing the
# sanitizer would escape. Appended after such a character, on a line that began with a letter (so it
# cannot become a heading, list item, rule or fence), it shows exactly as the full render would.
_PLAIN = re.compile(r"(?:[^\W_]|[ .,?!%/\-\u2013\u2014\u2018\u2019\u201c\u201d\u2026])*")
_ITEM_TEXT = re.compile(r" {0,3}(?:[-+*]|[0-9]{1,9}[.)]) {1,4}")  # a list item's marker line, up to its text


def _is_tight(tokens: list[Any]) -> bool:
    return not any(t.type == "paragraph_open" and t.level == 2 and not t.hidden for t in tokens)


class MarkdownStream:
    """Incremental renderer for one growing text."""

    def __init__(self, text: str = "") -> None:
        self._raw: list[str] = []
        self._cr = False  # a trailing "\r" waits: "\r\n" must count as one newline
        self._src = ""  # normalized text
        self._base = 0  # offset in _src where the open tail starts (a block's first line)
        self._committed = ""
        self._tail = ""
        self._tail_u16 = 0
        self._refs: Refs = {}  # definitions known at the last parse (committed text + tail)
        self._refs_done: Refs = {}  # definitions in the committed text (final)
        self._ref_commit: Refs | None = None  # definitions a committed block with "]" was rendered with
        self._stale = False  # committed HTML may differ from the exact render: finish() renders it all
        self._win: int | None = None  # offset of the last window while an open region is windowed
        self._open_tokens = 0  # block tokens of the open text at the last full parse
        self._fence: _Fence | None = None
        self._list: _List | None = None
        self._table: _Table | None = None
        self._para: _Plain | None = None
        self._finished = False
        if text:
            self.feed(text)

    @classmethod
    def rendered(cls, text: str, html: str) -> MarkdownStream:
        """A finished text whose exact HTML was rendered earlier (``render_markdown(text)``, kept
        in the database): the stream starts finished, with nothing to parse."""
        stream = cls()
        stream._raw = [text]
        stream._committed = html
        stream._finished = True
        return stream

    # -- public -------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """All text fed so far, as given."""
        return "".join(self._raw)

    @property
    def committed_html(self) -> str:
        """HTML of the finished blocks (the client's committed part)."""
        return self._committed

    @property
    def tail_html(self) -> str:
        """HTML of the open blocks as currently shown (the client's tail)."""
        return self._tail

    @property
    def finished(self) -> bool:
        """True after ``finish()``."""
        return self._finished

    def light(self, delta: str = "", final: bool = False) -> bool:
        """Is ``feed(delta)`` (or ``finish()`` if final) cheap enough for the event loop? Its work
        grows with the open tail, parsed again, and in ``finish()`` with the whole text when an
        approximation must be replaced by the exact render; and when a fenced code block may close,
        which highlights all of it (a 5 KB block: ~30 ms, ~100 ms more if its lexer is new).
        A table streams row by row cheaply, but the step that ends it renders it whole; and few
        characters can make many tokens (a quote of one-letter paragraphs, a row of a 300-column table)."""
        if final and (self._stale or self._win is not None or not _same_refs(self._ref_commit, self._refs)):
            return False
        limit = LIGHT if self._table is None else LIGHT_TABLE
        if len(self._src) - self._base + len(delta) > limit or self._open_tokens > LIGHT_TOKENS:
            return False
        return not self._may_highlight(delta, final)

    def html(self) -> str:
        """Current full HTML (committed blocks + tail); equals the client state."""
        return self._committed + self._tail

    def feed(self, delta: str) -> Patch:
        """Append delta to the text and return what changed."""
        if self._finished:
            raise RuntimeError("MarkdownStream.feed() after finish()")
        if not delta:
            return Patch()
        self._raw.append(delta)
        if self._cr:
            delta = "\r" + delta
        self._cr = delta.endswith("\r")
        if self._cr:
            delta = delta[:-1]
        self._src += normalize(delta)
        return self._update(final=False)

    def finish(self) -> Patch:
        """The text is complete: every block becomes final (exactly ``render_markdown(text)``)."""
        if self._finished:
            return Patch()
        if self._cr:
            self._src += "\n"
            self._cr = False
        patch = self._update(final=True)
        self._finished = True
        return Patch(patch.reset, patch.move, patch.commit, patch.splice, final=True)

    # -- internals ----------------------------------------------------------------------------

    def _set_tail(self, display: str, committed: str = "", reset: bool = False) -> Patch:
        """Commit html, then show display as the new tail; build the patch for both."""
        old, move, extra = self._tail, 0, committed
        if reset:
            self._committed, old = "", ""
        elif committed and old.startswith(committed):
            move, old, extra = u16len(committed), old[len(committed) :], ""
        self._committed += committed
        self._tail = display
        self._tail_u16 = u16len(display)
        return Patch(reset=reset, move=move, commit=extra, splice=diff(old, display))

    def _update(self, final: bool) -> Patch:
        open_block = (
            self._fence_step if self._fence
            else self._list_step if self._list
            else self._table_step if self._table
            else self._para_step if self._para
            else None
        )  # fmt: skip
        if not final and open_block is not None:
            patch = open_block()
            if patch is not None:
                return patch
        self._fence = self._list = self._table = self._para = None
        return self._full(final)

    def _full(self, final: bool) -> Patch:
        """Parse the whole tail's block structure, commit finished blocks, re-render the rest."""
        if self._win is not None:
            return self._exact() if final else self._window_step()
        src = self._src
        tail_src = src[self._base :]
        tokens, blocks, refs = structure_parse(tail_src, self._refs_done)
        self._refs = refs
        self._open_tokens = len(tokens)

        lines = _line_offsets(tail_src)
        n_complete = len(lines) - 1  # lines ending with "\n"
        n_final = len(blocks) if final else 0
        if not final:
            for k, b in enumerate(blocks):
                # A fence whose closing line is complete is final whatever follows; without this, a
                # flush that closes a fence *and* starts the next block on an incomplete line
                # re-rendered the whole (highlighted) fence into the tail, then committed it again.
                if self._closed_fence(tokens[b.start], tail_src, lines, n_complete):
                    pass
                elif k + 1 == len(blocks) or not self._ends_before(blocks[k + 1], tokens, tail_src, lines, n_complete):
                    break
                n_final = k + 1

        committed = ""
        cut = 0  # offset in tail_src where the remaining open text starts
        if n_final:
            first = lines[blocks[0].line]
            if n_final < len(blocks):
                cut = lines[blocks[n_final].line]
            elif final:
                cut = len(tail_src)
            else:  # a closed fence at the very end: cut after its closing line
                cut = lines[tokens[blocks[n_final - 1].start].map[1]]
            self._note_commit(tail_src[:cut], refs)  # with definitions before the first block
            if not (final and self._stale):
                committed = render_block_source(tail_src[first:cut], refs=refs)
        if final and (self._stale or not _same_refs(self._ref_commit, refs)):
            return self._exact()

        rest = blocks[n_final:]
        if rest and rest[0].type != "fence" and _too_big(len(tail_src) - lines[rest[0].line], tokens[rest[0].start :]):
            self._base += lines[rest[0].line]
            self._win = self._base
            return self._window_step(committed)
        display = ""
        if len(rest) == 1 and rest[0].type == "fence":
            display = self._fence_start(tokens[rest[0].start], tail_src, lines) or ""
        elif len(rest) == 1 and rest[0].type in ("bullet_list_open", "ordered_list_open"):
            display = self._list_start(tokens, rest[0], tail_src, lines)
        elif len(rest) == 1 and rest[0].type == "table_open":
            display = self._table_start(rest[0].line, tail_src, lines) or ""
        if not display and rest:
            block = tail_src[lines[rest[0].line] :]
            display = render_block_source(block, refs=refs)
            if len(rest) == 1 and rest[0].type == "paragraph_open":
                line = block[block.rfind("\n") + 1 :]
                self._para = self._plain_start(self._base + lines[rest[0].line], line, block, display, "</p>\n")
        self._base += cut
        return self._set_tail(display, committed)

    def _note_commit(self, src: str, refs: Refs) -> None:
        """Blocks are committed rendered under ``refs``; the result is exact only if the definitions
        are the same at the end. Two commits that may use definitions ("]") under different
        ones cannot both be exact."""
        if "]:" in src:
            self._refs_done = structure_parse(src, self._refs_done)[2]
        if self._stale or "]" not in src:
            return
        if self._ref_commit is None:
            self._ref_commit = refs
        elif not _same_refs(self._ref_commit, refs):
            self._stale = True

    def _exact(self) -> Patch:
        """The final patch after an approximation: one exact render of the whole text, sent whole."""
        self._win = None
        self._base = len(self._src)
        return self._set_tail("", render_markdown(self._src), reset=bool(self._committed))

    # -- a long open region, in windows -------------------------------------------------------

    def _window_step(self, committed: str = "") -> Patch:
        """Commit every full window as escaped text, then show the last one (under WINDOW) so."""
        assert self._win is not None
        parts = [committed]
        self._stale = True
        while len(self._src) - self._win > WINDOW:
            part = self._src[self._win : self._win + WINDOW]
            cut = _window_cut(part)
            parts.append(_as_text(part[:cut]))
            self._win += cut
        return self._set_tail(_as_text(self._src[self._win :]), "".join(parts))

    @staticmethod
    def _ends_before(nxt: Any, tokens: list[Any], src: str, lines: list[int], n_complete: int) -> bool:
        """Is the block before ``nxt`` final? Only text at the end can change, so check that
        ``nxt`` started on a complete line (for a table: its delimiter row is complete too), or
        that it is a paragraph starting with a letter after a blank line (nothing can make such a
        line part of the previous block)."""
        start = nxt.line
        need = start + 2 if nxt.type == "table_open" else start + 1
        if need <= n_complete:
            return True
        if nxt.type == "paragraph_open" and start >= 1:
            prev = src[lines[start - 1] : lines[start] - 1]
            first = src[lines[start] : lines[start] + 1]
            return bool(_BLANK.fullmatch(prev)) and first.isalpha()
        return False

    @staticmethod
    def _closed_fence(tok: Any, src: str, lines: list[int], n_complete: int) -> bool:
        """A fenced code block whose closing line is complete can never change again."""
        if tok.type != "fence" or tok.map[1] - tok.map[0] < 2 or tok.map[1] > n_complete:
            return False
        last = src[lines[tok.map[1] - 1] : lines[tok.map[1]] - 1]
        marker = tok.markup
        return bool(closing_fence_re(marker[0], len(marker)).fullmatch(last))

    # -- open fenced code ---------------------------------------------------------------------

    def _may_highlight(self, delta: str, final: bool) -> bool:
        """Could this step highlight much code? An open top-level fence highlights the lines a step
        completes (cheap unless they are long), and all of it when a line with its marker (or the
        end) closes it; any other fence marker in the open text is a block that is highlighted on
        every parse of the tail (e.g. a fence inside a list item)."""
        f = self._fence
        if f is None:
            open_text = self._src[self._base :] + delta
            return any(m in open_text for m in _FENCE_MARKS)
        open_lines = self._src[f.line_off :] + delta  # what the step highlights when lines complete
        return final or len(open_lines) > LIGHT_CODE or f.char * f.length in open_lines

    def _fence_start(self, tok: Any, src: str, lines: list[int]) -> str | None:
        """Start streaming an open fence; None if its first line is not complete."""
        if tok.map[0] + 1 >= len(lines) or self._closed_fence(tok, src, lines, len(lines) - 1):
            return None
        opening = src[lines[tok.map[0]] : lines[tok.map[0] + 1] - 1]
        indent = len(opening) - len(opening.lstrip(" "))
        lang = fence_lang(tok.info)
        self._fence = f = _Fence(tok.markup[0], len(tok.markup), indent, lang, self._base + lines[tok.map[0] + 1])
        advanced = self._fence_advance()
        assert advanced is not None
        done, partial = advanced
        return code_head(lang) + (highlight_code(done, lang) if done else "") + f.show_open(partial) + CODE_FOOT

    def _fence_advance(self) -> tuple[str, str] | None:
        """The lines completed since last time and the open line as it should show; None if the
        fence may have closed."""
        f = self._fence
        assert f is not None
        parts = self._src[f.line_off :].split("\n")
        done: list[str] = []
        off = f.line_off
        for line in parts[:-1]:
            if f.closing.fullmatch(line):
                return None
            done.append(f.strip(line) + "\n")
            off += len(line) + 1
        f.line_off = off
        partial = parts[-1]
        return "".join(done), "" if f.holds(partial) else f.strip(partial)

    def _fence_step(self) -> Patch | None:
        advanced = self._fence_advance()
        if advanced is None:
            return None
        done, partial = advanced
        f = self._fence
        assert f is not None
        if not done and partial == f.open_text:
            return Patch()
        if not done and partial.startswith(f.open_text):
            cut, cut_u16, ins = 0, 0, f.grow(partial)
        else:  # lines completed: their plain text gives way to their colours
            cut, cut_u16 = f.open_len, f.open_u16
            ins = (highlight_code(done, f.lang) if done else "") + f.show_open(partial)
        return self._splice_before(CODE_FOOT, cut, cut_u16, ins)

    def _splice_before(self, foot: str, cut: int, cut_u16: int, ins: str) -> Patch:
        """Replace the ``cut`` characters (``cut_u16`` UTF-16 units) just before ``foot``, which ends the
        tail, with ``ins``: the open block grew at its end, the HTML closing it stays."""
        at = self._tail_u16 - u16len(foot) - cut_u16
        self._tail = self._tail[: len(self._tail) - len(foot) - cut] + ins + foot
        self._tail_u16 += u16len(ins) - cut_u16
        return Patch(splice=(at, cut_u16, ins))

    # -- open list ----------------------------------------------------------------------------

    def _list_start(self, tokens: list[Any], block: Any, src: str, lines: list[int]) -> str:
        items = [t.map[0] for t in tokens[block.start : block.end] if t.type == "list_item_open" and t.level == 1]
        tight = _is_tight(tokens[block.start : block.end])
        first_end = lines[items[1]] if len(items) > 1 else len(src)
        open_html, _, close_html = render_list_item(src[lines[items[0]] : first_end], tight)
        lst = _List(block.type, open_html, close_html, self._base + lines[items[-1]], tight)
        for a, b in itertools.pairwise(items):
            lst.items_src.append(src[lines[a] : lines[b]])
            lst.items_raw.append(render_list_item(lst.items_src[-1], tight)[1])
        lst.prefix_raw = "".join(lst.items_raw)
        self._list = lst
        return self._list_display()

    def _list_display(self) -> str:
        lst = self._list
        assert lst is not None
        item = self._src[lst.item_off :]
        last = render_list_item(item, lst.tight)[1]
        display = sanitize(lst.open_html + lst.prefix_raw + last + lst.close_html)
        marker = _ITEM_TEXT.match(item)
        lst.plain = None
        if lst.tight and marker and "\n" not in item:
            block, foot = self._src[self._base :], "</li>\n" + lst.close_html
            lst.plain = self._plain_start(lst.item_off, item[marker.end() :], block, display, foot)
        return display

    def _list_step(self) -> Patch | None:
        """Re-parse from the last item only; None when the list may have ended (full path)."""
        lst = self._list
        assert lst is not None
        if lst.plain is not None and (patch := self._plain_step(lst.plain)) is not None:
            return patch
        sub = self._src[lst.item_off :]
        if len(sub) > WINDOW:  # one endless item (deep nesting): the windowed path bounds the work
            return None
        tokens, blocks, refs = structure_parse(sub)
        if refs or len(blocks) != 1 or blocks[0].type != lst.kind:
            return None
        items = [t.map[0] for t in tokens if t.type == "list_item_open" and t.level == 1]
        tight = lst.tight and _is_tight(tokens)
        if len(items) > 1:
            lines = _line_offsets(sub)
            for a, b in itertools.pairwise(items):
                lst.items_src.append(sub[lines[a] : lines[b]])
                lst.items_raw.append(render_list_item(lst.items_src[-1], tight)[1])
            lst.item_off += lines[items[-1]]
            lst.prefix_raw += "".join(lst.items_raw[-(len(items) - 1) :])
        if tight != lst.tight:  # a blank line between items made the list loose: re-render once
            lst.tight = tight
            lst.items_raw = [render_list_item(s, tight)[1] for s in lst.items_src]
            lst.prefix_raw = "".join(lst.items_raw)
        return self._set_tail(self._list_display())

    # -- plain text at the end of an open paragraph or list item --------------------------------

    def _plain_start(self, start: int, line: str, block: str, display: str, foot: str) -> _Plain | None:
        """Stream the rest of ``line`` (the end of ``block``, shown as ``display``) without parsing,
        if it begins with a letter and ends in plain text, and ``block`` holds no raw HTML."""
        body = line.rstrip(" ")
        if (
            body.lstrip(" ")[:1].isalpha()
            and _PLAIN.fullmatch(body[-1])
            and "<" not in block
            and display.endswith(foot)
        ):
            return _Plain(start, len(self._src), len(line) - len(body), foot)
        return None

    def _para_step(self) -> Patch | None:
        assert self._para is not None
        return self._plain_step(self._para)

    def _plain_step(self, p: _Plain) -> Patch | None:
        """Insert plain text before the foot; None for anything else (the block's own path)."""
        new = self._src[p.end :]
        if len(self._src) - p.start > WINDOW or not _PLAIN.fullmatch(new):
            return None
        p.end = len(self._src)
        text = new.rstrip(" ")
        if not text:
            p.spaces += len(new)
            return Patch()
        ins = " " * p.spaces + text
        p.spaces = len(new) - len(text)
        return self._splice_before(p.foot, 0, 0, ins)

    # -- open table ---------------------------------------------------------------------------

    def _table_start(self, first: int, src: str, lines: list[int]) -> str | None:
        """Stream a table row by row once its delimiter row is complete (before, it may still change)."""
        if first + 2 >= len(lines):
            return None
        self._table = _Table(src[lines[first] : lines[first + 2]], self._base + lines[first + 2])
        display = self._table_advance()
        if display is None:
            self._table = None
        return display

    def _table_advance(self) -> str | None:
        """Render the rows completed since last time for good; the table's HTML, or None when it
        may have ended (a blank line or another block) or grown past markdown-it's cell limit."""
        t = self._table
        assert t is not None
        sub = self._src[t.row_off :]
        if len(sub) > WINDOW:  # one endless row
            return None
        parts = render_table(t.head_src + sub, self._refs)
        done = sub.count("\n")
        if (
            parts is None
            or parts.lines < 2 + done
            or (t.n_rows + len(parts.rows)) * parts.columns > MAX_AUTOCOMPLETED_CELLS
        ):
            return None
        if done:
            t.raw += "".join(parts.rows[:done])
            t.safe = None if t.safe is None or parts.safe is None else t.safe + "".join(parts.safe[1][:done])
            t.n_rows += done
            t.row_off += sub.rfind("\n") + 1
        if t.safe is not None and parts.safe is not None:
            head, rows = parts.safe
            return join_table(head, t.safe + "".join(rows[done:]))
        return sanitize(join_table(parts.head, t.raw + "".join(parts.rows[done:])))

    def _table_step(self) -> Patch | None:
        """Render only what changed since the last line break; None when the table may have ended."""
        display = self._table_advance()
        return None if display is None else self._set_tail(display)


def _too_big(chars: int, tokens: list[Any]) -> bool:
    """Would re-rendering this open region on every feed cost too much? Parsing costs about
    characters × nesting depth (a 3.7 KB quote 20 levels deep: 60 ms), rendering about tokens."""
    depth = max((t.level for t in tokens), default=0)
    return chars * max(4, depth) > 4 * WINDOW or len(tokens) > WINDOW_TOKENS


def _same_refs(a: Refs | None, b: Refs) -> bool:
    """Do links render the same under both? (Each definition also records its source lines.)"""
    if a is None or a is b:
        return True
    return a.keys() == b.keys() and all((a[k]["href"], a[k]["title"]) == (b[k]["href"], b[k]["title"]) for k in a)


def _window_cut(part: str) -> int:
    """Where a full window ends: after its last line break, else its last space, else anywhere."""
    for sep in ("\n", " "):
        at = part.rfind(sep) + 1
        if at >= len(part) // 2:
            return at
    return len(part)


def _as_text(src: str) -> str:
    """Markdown source shown as it is, in a paragraph (the same HTML the sanitizer would give)."""
    return f"<p>{_escape(src)}</p>\n" if src.strip() else ""


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
