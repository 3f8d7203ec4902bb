"""Render work per feed stays bounded whatever the markdown (#7 finding 2), and finish() stays exact.

Not timed: the judge is how much source each feed hands to the parser and renderer. Before the
bound, reference definitions re-rendered the whole answer on every feed and an open block was
re-rendered whole on every feed (quadratic); here every hostile answer is 12× the window.
"""

from __future__ import annotations

import re

import pytest

import services.markdown.stream as ms
from services.markdown import MarkdownStream, apply_patch, render_markdown

SIZE = 12 * ms.WINDOW


def _grow(line: str) -> str:
    """Repeat a numbered line until the text is SIZE long."""
    out, i = [], 0
    while sum(map(len, out)) < SIZE:
        i += 1
        out.append(line.format(i=i, j=max(1, i - 1), d="> " * (1 + i % 25)))
    return "".join(out)


HOSTILE = {
    "refs": _grow("[r{i}]: https://example.com/{i}\n\nSee [this][r{i}] and [that][r{j}], then more words.\n\n"),
    "refs after use": _grow('Text [^{i}] and [later][z].\n\n[^{i}]: #note-{i} "note {i}"\n\n') + "[z]: /z\n",
    "endless paragraph": _grow("words *and* more `words` in one paragraph that never ends {i}\n"),
    "one endless line": _grow("word **{i}** "),
    "deep nesting": _grow("{d}- item {i} in a deep quote\n"),
    "unclosed html": _grow("<div><span class=x>soup {i}</span><b>bold\n"),
    "table past the cell limit": "|" + "c|" * 300 + "\n|" + "-|" * 300 + "\n" + _grow("| {i} |\n"),
    "endless list item": "- item\n" + _grow("  more of the same item {i} and [link](https://e.com/{i})\n"),
}


def _tokens(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text)


@pytest.mark.parametrize("name", HOSTILE)
def test_each_feed_parses_a_bounded_part_and_finish_is_exact(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    for fn in ("render_block_source", "structure_parse", "render_markdown", "render_table", "render_list_item"):
        real = getattr(ms, fn)
        monkeypatch.setattr(ms, fn, lambda src, *a, real=real, **kw: sizes.append(len(src)) or real(src, *a, **kw))
    text = HOSTILE[name]
    tokens = _tokens(text)
    stream = MarkdownStream()
    committed, tail = "", ""
    worst = 0
    for k in range(0, len(tokens), 20):  # 20 tokens per flush: 400 tokens/s at 50 ms
        sizes.clear()
        patch = stream.feed("".join(tokens[k : k + 20]))
        committed, tail = apply_patch(committed, tail, patch)
        worst = max(worst, sum(sizes))
    assert worst <= 3 * ms.WINDOW, f"one feed parsed {worst} characters of a {len(text)}-character answer"
    committed, tail = apply_patch(committed, tail, stream.finish())
    assert committed + tail == render_markdown(text)


def test_light_says_which_steps_may_run_on_the_event_loop() -> None:
    """MarkdownView renders on the loop only what the stream calls light; the rest goes to a thread."""
    small = MarkdownStream("A short answer with a [link](https://example.com).\n\nAnd more")
    assert small.light(" text") and small.light(final=True)
    assert not small.light("x" * ms.LIGHT)  # a big delta makes a big open tail
    refs = MarkdownStream("See [a][r].\n\nNext.\n\n")
    refs.feed("[r]: https://example.com\n")  # defined after a block that uses it was committed
    assert refs.light("more") and not refs.light(final=True)  # finish() redoes it all exactly
    windowed = MarkdownStream(HOSTILE["endless paragraph"])
    assert not windowed.light(final=True)


def test_an_open_table_past_a_kilobyte_is_not_light() -> None:
    """Ending a 4 KB table renders all its cells at once: ~40 ms here, 290 ms seen under load."""
    row = "| " + " | ".join(f"cell{c}" for c in range(6)) + " |\n"
    table = MarkdownStream("| a | b | c | d | e | f |\n|---|---|---|---|---|---|\n" + row)
    assert table.light(row)
    table.feed(row * 40)
    assert not table.light(row) and not table.light("\n")


def test_few_characters_of_many_tokens_are_not_light() -> None:
    """3.6 KB of one-letter paragraphs in a quote is 1,800 tokens: light by size, not by rendering cost."""
    assert not MarkdownStream("> a\n>\n" * 600).light("> b\n")
    assert MarkdownStream("> a\n>\n" * 100).light("> b\n")


def test_steps_that_may_highlight_code_are_not_light() -> None:
    """Closing a fence highlights all of it (a 5 KB block: ~30 ms, and a new lexer's import ~80 ms)."""
    fenced = MarkdownStream("Intro.\n\n```python\ndef f():\n    return 1\n")
    assert fenced.light("    x = 2\n")  # an open fence highlights a short completed line on the loop
    assert not fenced.light("    y = [" + "1, " * 400 + "]\n")  # not a long one
    assert not fenced.light("```\n") and not fenced.light(final=True)
    fenced.feed("`")
    assert not fenced.light("``\n")  # the marker split across two deltas
    prose = MarkdownStream("Intro.\n\nSome text")
    assert not prose.light(" and code:\n\n~~~\nx\n~~~\n")  # a fence that opens and closes in one step
    in_list = MarkdownStream("- item\n\n  ```\n  code\n  ```\n")
    assert not in_list.light(" more")  # a fence inside an open list is highlighted on every parse
