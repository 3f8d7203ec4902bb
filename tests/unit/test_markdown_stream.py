"""MarkdownStream: applying every patch in order gives exactly render_markdown(text).

The property test is the judge of the block-splitting rules: random markdown, random split points
(inside fences, table rows, list items, emphasis, links, CRLF pairs ...).
"""

from __future__ import annotations

import importlib
import itertools
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import services.markdown.stream as ms
from services.markdown import MarkdownStream, Patch, apply_patch, render_markdown
from services.markdown.patch import u16len

# ---------------------------------------------------------------------------------------------
# markdown generator
# ---------------------------------------------------------------------------------------------

WORDS = ["alpha", "beta", "x", "1.", "-", "*", "_", "`", "[", "]", "|", ">", "#", "é", "😀", "&amp;", "<"]

MARKUP = [
    st.sampled_from(WORDS),
    st.builds(lambda w: f"*{w}*", st.sampled_from(["em", "two words", "😀"])),
    st.builds(lambda w: f"**{w}**", st.sampled_from(["strong", "b c"])),
    st.builds(lambda w: f"~~{w}~~", st.just("gone")),
    st.builds(lambda w: f"`{w}`", st.sampled_from(["code", "<b>", "a | b"])),
    st.builds(
        lambda t, u: f"[{t}]({u})",
        st.sampled_from(["link", "a b"]),
        st.sampled_from(["https://example.com/a?b=1", "javascript:alert(1)", "/rel", "mailto:a@b.c"]),
    ),
    st.builds(lambda a: f"![{a}](https://img.example/x.png)", st.sampled_from(["pic", ""])),
    st.just("[ref]"),
]
RAW_HTML = ["<b>bold</b>", "<span>s</span>", "<img src=x onerror=alert(1)>", "<br>", "<i>open"]
inline = st.one_of(*MARKUP, st.sampled_from(RAW_HTML))
line = st.lists(inline, min_size=1, max_size=8).map(" ".join)
plain_line = st.lists(st.one_of(*MARKUP), min_size=1, max_size=3).map(" ".join)  # no raw HTML
para = st.lists(line, min_size=1, max_size=3).map("\n".join)


def _code(lang: str, body: list[str], closed: bool, fence: str, indent: str) -> str:
    out = [f"{indent}{fence}{lang}", *(indent + b for b in body)]
    if closed:
        out.append(indent + fence)
    return "\n".join(out)


code_line = st.sampled_from(["x = 1", "    return f(x)  # <script>", "", "```", "~~~~", "  ```", "a\tb", "é😀"])
code = st.builds(
    _code,
    st.sampled_from(["", "python", "js", "nosuchlang", "py extra"]),
    st.lists(code_line, max_size=25),
    st.booleans(),
    st.sampled_from(["```", "~~~", "````"]),
    st.sampled_from(["", " ", "  "]),
)
bullet = st.sampled_from(["- ", "* ", "+ ", "1. ", "2) ", "10. "])


@st.composite
def lists(draw: st.DrawFn) -> str:
    marker = draw(bullet)
    n = draw(st.integers(1, 30))
    loose = draw(st.sampled_from(["\n", "\n", "\n\n"]))
    pad = " " * len(marker)
    items = []
    for _ in range(n):
        item = marker + draw(line)
        extra = draw(
            st.sampled_from(
                [
                    "",
                    "",
                    f"\n{pad}- nested",
                    f"\n{pad}more text",
                    f"\n\n{pad}para 2",
                    f"\n{pad}```\n{pad}code\n{pad}```",
                    "\nlazy",
                ]
            )
        )
        items.append(item + extra)
    return loose.join(items)


SPECIAL_CELLS = ["", " ", "a \\| b", "`a | b`", "`x \\| y`", "**b|c**", "\\", "-", "#", "1.", ">", "é😀"]
cell = st.one_of(plain_line, plain_line, st.sampled_from(SPECIAL_CELLS))
head_cell = st.one_of(plain_line, st.sampled_from(["h1", "**Name**", "`code`", "a \\| b", "é😀", ""]))


def _row(cells: list[str], outer: bool) -> str:
    inner = " | ".join(cells)
    return f"| {inner} |" if outer else inner


@st.composite
def tables(draw: st.DrawFn) -> str:
    """GFM tables: alignments, cells with inline markup and (escaped) pipes, rows with fewer or
    more cells than the header, with or without outer pipes, sometimes ended by a block start.
    Half of them have raw HTML in some cells: the stream then sanitizes the whole table each time,
    else row by row, which must give the same bytes."""
    if draw(st.booleans()):
        cell_, head_cell_ = st.one_of(cell, cell, st.sampled_from(RAW_HTML)), st.one_of(head_cell, st.just("<i>x"))
    else:
        cell_, head_cell_ = cell, head_cell
    n = draw(st.integers(1, 4))
    outer = draw(st.sampled_from([True, True, False]))
    head = _row(draw(st.lists(head_cell_, min_size=n, max_size=n)), outer or n == 1)
    align = "|".join(draw(st.lists(st.sampled_from(["---", ":--", "--:", ":-:", " - "]), min_size=n, max_size=n)))
    rows = [
        _row(draw(st.lists(cell_, min_size=1, max_size=n + 2)), draw(st.booleans()))
        for _ in range(draw(st.integers(0, 12)))
    ]
    end = draw(
        st.sampled_from(
            [
                "",
                "",
                "",
                "\nnot a block",
                "\n- item",
                "\n> quote",
                "\n# h",
                "\n```\nx\n```",
                "\n    code",
                "\n<div>x</div>",
            ]
        )
    )
    return "\n".join([head, f"|{align}|" if outer else align, *rows]) + end


table = tables()
quote = st.lists(line, min_size=1, max_size=4).map(
    lambda ls: "\n".join(("> " if i % 3 != 2 else "") + x for i, x in enumerate(ls))
)
heading = st.one_of(
    st.builds(lambda h, t: f"{h} {t}", st.sampled_from(["#", "##", "######"]), line),
    st.builds(lambda t, u: f"{t}\n{u}", line, st.sampled_from(["===", "---", "-"])),
)
misc = st.sampled_from(
    [
        "---",
        "***",
        "<div>\nraw *html*\n</div>",
        "<!-- comment -->",
        "<script>alert(1)</script>",
        "    indented code\n    more",
        "[ref]: https://example.com/ref",
        "<style>body{display:none}</style>",
        "| not | a table",
        "\\",
        "  ",
        "1. ",
        "-",
        "```",
        "| h | i |\n|---|---|x",
        "| h | i |\n|---|--- |",
        "h | i\n--|--\nrow",
        "<div>",
        "<pre>\n\nx",
        "    ",
    ]
)
block = st.one_of(para, para, heading, lists(), code, table, quote, misc)
separator = st.sampled_from(["\n\n", "\n\n", "\n", "\n\n\n", "\r\n\r\n"])


@st.composite
def documents(draw: st.DrawFn) -> str:
    blocks = draw(st.lists(block, min_size=1, max_size=8))
    seps = [draw(separator) for _ in blocks]
    text = "".join(b + s for b, s in zip(blocks, seps, strict=True))
    return text if draw(st.booleans()) else text.rstrip("\n")


def _pieces(draw: st.DrawFn, text: str) -> list[str]:
    """Random split points; sometimes token-sized steps, sometimes a few big ones."""
    if not text:
        return []
    mode = draw(st.sampled_from(["small", "cuts"]))
    if mode == "small":
        sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=len(text)))
        out, i = [], 0
        while i < len(text):
            n = sizes[len(out) % len(sizes)]
            out.append(text[i : i + n])
            i += n
        return out
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=20))))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _stream(pieces: list[str]) -> tuple[MarkdownStream, str, list[Patch]]:
    stream = MarkdownStream()
    committed = tail = ""
    patches = []
    for piece in pieces:
        patch = stream.feed(piece)
        patches.append(patch)
        # through JSON, as the browser gets it
        committed, tail = apply_patch(committed, tail, json.loads(patch.to_json()))
        assert committed == stream.committed_html
        assert tail == stream.tail_html
        # An open table is shown exactly (unlike open code or lists), links to definitions above it
        # included; blocks committed before a late definition may differ until finish() (see stream.py).
        if tail.startswith("<table>"):
            assert render_markdown(stream.text.removesuffix("\r")).endswith(tail)
    patch = stream.finish()
    patches.append(patch)
    committed, tail = apply_patch(committed, tail, json.loads(patch.to_json()))
    assert tail == ""
    return stream, committed, patches


@pytest.mark.slow  # ~45 s: the quick loop leaves the two big property runs to the full suite
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_patches_reproduce_reference_render(data: st.DataObject) -> None:
    text = data.draw(documents())
    pieces = _pieces(data.draw, text)
    stream, html, _ = _stream(pieces)
    assert stream.text == text
    assert html == render_markdown(text)
    assert stream.html() == html


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ab *_`[]()!|>#-+1.\n\r\t~<\\:😀", max_size=80), st.data())
def test_adversarial_alphabet(text: str, data: st.DataObject) -> None:
    _, html, _ = _stream(_pieces(data.draw, text))
    assert html == render_markdown(text)


@pytest.mark.slow
@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_tables_reproduce_reference_render(data: st.DataObject) -> None:
    """Tables next to each other and to paragraphs and lists (a paragraph line may first look like
    a header, a late delimiter row turns it into a table), split anywhere, inside rows too."""
    blocks = data.draw(st.lists(st.one_of(tables(), tables(), para, lists()), min_size=1, max_size=3))
    text = "".join(b + data.draw(separator) for b in blocks)
    text = text if data.draw(st.booleans()) else text.rstrip("\n")
    _, html, _ = _stream(_pieces(data.draw, text))
    assert html == render_markdown(text)


def test_initial_text_then_feed() -> None:
    stream = MarkdownStream("# Hi\n\nsome ")
    committed, tail = stream.committed_html, stream.tail_html
    for piece in ["text\n\n- a", "\n- b\n"]:
        committed, tail = apply_patch(committed, tail, stream.feed(piece))
    committed, tail = apply_patch(committed, tail, stream.finish())
    assert committed == render_markdown("# Hi\n\nsome text\n\n- a\n- b\n")


def test_finished_blocks_are_committed_and_moved_not_resent() -> None:
    stream = MarkdownStream()
    stream.feed("First paragraph.\n\n")
    patch = stream.feed("Second")
    assert stream.committed_html == "<p>First paragraph.</p>\n"
    assert patch.move == len("<p>First paragraph.</p>\n") and patch.commit == ""


def test_open_fence_highlights_each_line_once_it_is_complete() -> None:
    stream = MarkdownStream("```python\n")
    patches = [stream.feed(f"x = {i}  # <tag>\n") for i in range(50)]
    assert all(p.splice and p.splice[1] == 0 for p in patches)  # whole lines: pure insertions
    assert stream.tail_html.count("<span class=n>x</span>") == 50  # coloured while the block is open
    assert "<span class=c1># &lt;tag&gt;</span>" in stream.tail_html
    grow = [stream.feed(piece) for piece in ("def ", "f(", "y):")]
    assert [p.splice[1:] for p in grow if p.splice] == [(0, "def "), (0, "f("), (0, "y):")]  # open line: plain
    line_end = stream.feed("\n")
    assert line_end.splice and line_end.splice[1] == len("def f(y):")  # its plain text gives way to colours
    assert "<span class=k>def</span>" in line_end.splice[2]
    done = stream.feed("```\n")
    assert done.move and not done.commit  # coloured line by line as the exact render does: nothing re-sent
    assert stream.tail_html == "" and stream.html() == render_markdown(stream.text)


def test_an_open_fence_highlights_each_character_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """O(n): token by token, the highlighter sees each line of an open block once, not the block so far."""
    import services.markdown.stream as stream_module

    seen: list[int] = []
    real = stream_module.highlight_code
    monkeypatch.setattr(stream_module, "highlight_code", lambda code, lang: seen.append(len(code)) or real(code, lang))
    code = "".join(f"total = total + values[{i}]  # step {i}\n" for i in range(400))
    stream = MarkdownStream("```python\n")
    for token in _tokens(code):
        stream.feed(token)
    assert sum(seen) == len(code) and len(seen) >= 400
    assert stream.tail_html.count("<span class=n>total</span>") == 800


def test_reference_definitions_resolve_in_one_exact_render_at_finish() -> None:
    """A definition after the block that uses it costs one full render, at the end, not one per feed."""
    stream = MarkdownStream("See [docs].\n\nMore text.\n\n")
    committed = stream.committed_html
    assert committed
    patch = stream.feed("[docs]: https://example.com\n")
    assert not patch.reset and stream.committed_html == committed
    final = stream.finish()
    assert final.reset
    assert stream.html() == render_markdown(stream.text) and 'href="https://example.com"' in stream.html()
    assert "".join(apply_patch("", "", final)) == stream.html()


def test_definitions_known_before_use_need_no_final_rerender() -> None:
    stream = MarkdownStream()
    for token in _tokens("[r]: https://example.com/r\n\nSee [this][r] and [r].\n\nMore [r] here.\n\nEnd"):
        assert not stream.feed(token).reset
    assert not stream.finish().reset
    assert stream.html() == render_markdown(stream.text) and stream.html().count("https://example.com/r") == 3


def test_astral_characters_use_utf16_offsets() -> None:
    stream = MarkdownStream("😀😀 a")
    patch = stream.feed("b")
    assert patch.splice is not None
    at, delete, ins = patch.splice
    assert at == u16len("<p>😀😀 a") and delete == 0 and ins == "b"


def test_crlf_split_across_feeds() -> None:
    stream = MarkdownStream("a\r")
    stream.feed("\nb\r")
    stream.finish()
    assert stream.html() == render_markdown("a\r\nb\r")


def test_patch_json_shape() -> None:
    p = Patch(move=3, commit="<p>x</p>\n", splice=(0, 2, "y"))
    assert json.loads(p.to_json()) == {"m": 3, "c": "<p>x</p>\n", "t": [0, 2, "y"]}
    assert Patch().as_dict() == {} and Patch().empty


TRICKY = [
    "Para\n| h | i |\n|---|---|x\nmore",  # a delimiter row that turns invalid: no table after all
    "Para\n| h | i |\n|---|---|\n| 1 | 2 |\n\nafter",
    "Foo\n---\nbar\n===\n\nbaz\n-\n- item",  # setext headings vs list items and rules
    "> quote\nlazy line\n\n> another\n- list\n\ntext",
    "- a\n- b\n\n- c\n\nx\n\n1. one\n2) two\n\n* star\n+ plus",
    "- a\n\n  continued\n-\n  empty start\n\nend",
    "```py\ncode\n``\n```x\n````\n```\n\nafter\n~~~\n  ~~~\nq\n   ~~~~  \nz",
    "  ```\n  indented fence\n    more\n  ```\n\n    indented code\n\n    still\nnot",
    "<div>\n*x*\n\n</div>\n<pre>\n\n*y*\n</pre>\n<!--\n\n-->\n<script>\nalert(1)\n</script>\nok",
    "[a]\n\n[a]: https://example.com\n\n[b]: /x 'title'\n\n[b] and [a]",
    "[x]:\n/url\n\n[x]",
    "Text with *emphasis that `spans` lines\ncontinues* and [a link\n](https://e.com) end",
    "1. one\n   ```\n   code in item\n   ```\n2. two\n\n   para in two\n3. three",
    "a\r\nb\r\n\r\n# h\r\n\r\n```\r\nx\r\n```\r\n",
    "😀 astral *é* `😀`\n\n| 😀 | b |\n|---|---|\n| é | 😀 |",
    "| a | *b* |\n|:-:|--:|\n| `x \\| y` | **b** |\n| one |\n| 1 | 2 | 3 |\n`a|b` | c\n- list",
    "Para\n| h | i |\n|---|---|\n| 1 | 2 |\n| <i>open | <textarea>x |\n| 3 | 4 |\n\n| h |\n| - |\n| r |\n```\nc\n```",
    "a | b\n--|:--\nrow\nx | y | z\n# heading\n| p | q |\n|---|---|\n|r|s|",
]


def test_tricky_documents_every_cut_point() -> None:
    for text in TRICKY:
        expected = render_markdown(text)
        _, html, _ = _stream(list(text))  # character by character
        assert html == expected, text
        for i in range(1, len(text)):
            _, html, _ = _stream([text[:i], text[i:]])
            assert html == expected, (text, i)


def test_open_table_renders_each_row_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Feeding rows of a long table parses only the new text under the header, never the table."""
    parsed: list[int] = []
    for name in ("render_table", "render_block_source", "structure_parse"):
        real = getattr(ms, name)
        monkeypatch.setattr(ms, name, lambda src, *a, real=real, **kw: parsed.append(len(src)) or real(src, *a, **kw))
    head = "| Name | Value |\n|:--|--:|\n"
    stream = MarkdownStream(head)
    patches = []
    for i in range(200):
        parsed.clear()
        patches += [stream.feed(f"| row {i} | `{i}` "), stream.feed("|\n")]
        assert max(parsed) < len(head) + 40
    assert all(p.splice[1] < 10 and len(p.splice[2]) < 100 for p in patches[2:] if p.splice)  # row by row
    stream.feed("\nAfter.")
    stream.finish()
    assert stream.html() == render_markdown(stream.text)


class _AlwaysParsing(MarkdownStream):
    """The same stream without the plain-text step: every feed parses the open paragraph or list item."""

    def _plain_start(self, start: int, line: str, block: str, display: str, foot: str) -> None:
        return None


PLAIN_PIECES = [" word", " Word", "s", ".", ",", " ", "  ", "?", "!", " é", "’s", " 2025", "-", "/", "%", " —"]
MARKS = ["\n", "\n\n", "*", "_", "`", "[", "](x)", "]", ":", "'", '"', ")", "(", "&amp", ";", "\\", "<b>", "#",
         "1.", "- ", "===", "|", "~~", "    ", "\t", "\u00a0", "\r"]  # fmt: skip
# Paragraphs and list items whose meaning one more character can change: an open emphasis, code span,
# entity, link title or definition, raw HTML, a trailing backslash; tight, loose and nested lists.
STARTS = ["", "Para", "# H\n\nPara", "- a\n\nPara", "Para _em", "Para *em", "Para `code", "[r]: /u 'title\nPara",
          "[r]: /u (title\nPara", '[r]:\n/u "title\nPara', "Para &amp", "Para <i>x", "Para\\", "[r]\n\n[r]: /u",
          "- a\n- Item", "1. one\n2. Two", "- a\n\n- Loose", "- <b>a\n- Item", "- a\n  - Nested", "- Item _em",
          "- Item &amp", "* a\n* Star `x", "1) One", "-    Wide"]  # fmt: skip


def _same_as_parsing(start: str, pieces: list[str]) -> None:
    fast, slow = MarkdownStream(start), _AlwaysParsing(start)
    committed, tail = fast.committed_html, fast.tail_html
    for piece in pieces:
        committed, tail = apply_patch(committed, tail, json.loads(fast.feed(piece).to_json()))
        slow.feed(piece)
        assert (committed, tail) == (slow.committed_html, slow.tail_html), repr(fast.text)
    fast.finish()
    assert fast.html() == render_markdown(fast.text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(*[st.sampled_from(PLAIN_PIECES)] * 3, st.sampled_from(MARKS)), max_size=40),
       st.sampled_from(STARTS))  # fmt: skip
def test_an_open_paragraph_shows_what_parsing_it_would_show(pieces: list[str], start: str) -> None:
    """The plain-paragraph step is exact at every feed, not only after finish()."""
    _same_as_parsing(start, pieces)


def test_every_character_after_plain_text_shows_what_parsing_it_would_show() -> None:
    """Each ASCII character (and a few others) where a model's next token puts it: after a word."""
    chars = [chr(c) for c in range(1, 128)] + ["\u00a0", "\u2028", "é", "😀", "\u0301", "\ufffd"]
    for start in STARTS:
        for ch in chars:
            _same_as_parsing(start, [ch, " word", ch, "x", ch, " y"])


def test_a_paragraph_or_item_past_the_window_is_windowed_as_when_parsed() -> None:
    """Plain text takes the same path at the same feed once an open paragraph or item outgrows
    WINDOW (escaped text in windows, one exact render at the end), and not before."""
    words = [" word"] * (ms.WINDOW // 5 + 50)
    _same_as_parsing("Para", words)
    _same_as_parsing("- a\n- Item", words)


def test_prose_streams_into_a_paragraph_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A word per feed (what a model sends) costs no parse of the paragraph or list item it grows."""
    parsed: list[int] = []
    for name in ("render_block_source", "structure_parse"):
        real = getattr(ms, name)
        monkeypatch.setattr(ms, name, lambda src, *a, real=real, **kw: parsed.append(len(src)) or real(src, *a, **kw))
    stream = MarkdownStream("Some *emphasis* first, then")
    parsed.clear()
    words = [" plain", " words,", " one", " by", " one."] * 100
    for word in words:
        stream.feed(word)
    assert parsed == []
    assert stream.tail_html == render_markdown(stream.text)
    stream.feed(" Then `code`")  # markup: parsed again
    assert parsed
    # a list longer than a window: only its last item's length counts
    stream.feed("\n\n")
    for i in range(ms.WINDOW // 40 + 5):
        stream.feed(f"- item {i} of a list longer than a window\n")
    stream.feed("- Two")
    parsed.clear()
    for word in words:
        stream.feed(word)
    assert parsed == []
    assert stream.committed_html + stream.tail_html == render_markdown(stream.text)


def test_table_past_markdown_its_cell_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """markdown-it ends a table once too many cells were filled in across its rows; rows parsed on
    their own cannot know, so the stream stops the row-by-row path before the limit."""
    monkeypatch.setattr(importlib.import_module("markdown_it.rules_block.table"), "MAX_AUTOCOMPLETED_CELLS", 40)
    monkeypatch.setattr(ms, "MAX_AUTOCOMPLETED_CELLS", 40)
    text = "|" + "h|" * 10 + "\n|" + "-|" * 10 + "\n" + "".join(f"| r{i}\n" for i in range(8))
    _, html, _ = _stream(list(text))
    assert html == render_markdown(text) and html.count("<tr>") == 5


def _mixed_answer() -> str:
    """~3,000 tokens: headings, prose, a long numbered list, long code, a table, quote, bullets."""
    parts = ["# Setting up\n\nA **walkthrough** with `code`, a [link](https://example.com/docs) and *emphasis*.\n\n"]
    parts += [f"{i}. **Step {i}**: run `tool-{i}` and check the output for errors.\n" for i in range(1, 31)]
    parts.append("   - nested detail with `inline`\n   - another nested detail\n\n```python\n")
    parts += [f"def handler_{i}(request: Request) -> Response:  # <h{i}>\n    return ok({i})\n" for i in range(70)]
    parts.append("```\n\nAfter the code, a paragraph explaining what happens next, with *style*.\n\n")
    parts.append("| Option | Default | Meaning |\n|:--|:-:|--:|\n")
    parts += [f"| `opt_{i}` | {i * 10} | what option {i} does |\n" for i in range(20)]
    parts.append("\n> **Note:** quoted advice that spans\n> two lines of text.\n\n")
    parts += [f"- bullet point {i} with a few words of explanation\n" for i in range(40)]
    parts.append("\nThat is all. " * 10)
    return "".join(parts)


def _tokens(text: str) -> list[str]:
    """Roughly BPE-sized pieces: a word with its leading space, short numbers, 1-2 symbols."""
    return re.findall(r" ?[A-Za-z]{1,8}|\d{1,3}| ?[^\sA-Za-z\d]{1,2}|\s+", text)


def test_patch_bytes_stay_linear_token_by_token(capsys: pytest.CaptureFixture[str]) -> None:
    """Not timed: bytes of all patches for a ~3,000-token answer fed token by token ≤ 3× its HTML."""
    text = _mixed_answer()
    tokens = _tokens(text)
    assert "".join(tokens) == text and len(tokens) >= 3000
    stream = MarkdownStream()
    sent = sum(len(p.to_json().encode()) for p in map(stream.feed, tokens) if not p.empty)
    sent += len(stream.finish().to_json().encode())
    final = render_markdown(text)
    assert stream.html() == final
    ratio = sent / len(final.encode())
    with capsys.disabled():
        print(f"\n{len(tokens)} tokens: patches {sent} B, final HTML {len(final.encode())} B, ratio {ratio:.2f}")
    assert ratio <= 3.0


def test_a_stream_built_from_kept_html_is_the_finished_stream_without_parsing() -> None:
    text = "# Title\n\nSome `code` and a [link][r].\n\n[r]: https://example.com\n"
    parsed = MarkdownStream(text)
    parsed.finish()
    kept = MarkdownStream.rendered(text, render_markdown(text))
    assert (kept.text, kept.html(), kept.finished) == (parsed.text, parsed.html(), True)
    assert kept.finish().empty and kept.light(final=True)
    with pytest.raises(RuntimeError):
        kept.feed("more")
