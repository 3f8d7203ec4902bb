"""Finished sentences of a streaming markdown answer, in plain words, for a screen reader.

A live region that follows the rendered answer announces every reveal step: a word at a time,
markup and all. Readers want sentences, so the page feeds the answer's deltas here and says each
sentence once, when it is complete (its end mark and the space after it have arrived, or its line
ended). Markdown punctuation is dropped; a code block is said as "Code block." and its lines
are skipped (reading code aloud a token at a time helps no one; the block is there to navigate to).
Work per delta is proportional to the delta: the open line is scanned only from where the last
scan stopped.
"""

from __future__ import annotations

import re

CODE_BLOCK = "Code block."
MAX_SENTENCE = 400  # characters: a longer run without an end mark is said in pieces of about this size

_END = re.compile(r"[.!?…][\"'”’)\]*_]*\s")
_FENCE = re.compile(r" {0,3}(```|~~~)")
_LINE_PREFIX = re.compile(r" {0,3}(?:#{1,6}\s+|(?:>\s?)+|[-*+]\s+|\d{1,9}[.)]\s+)*")
_TABLE_RULE = re.compile(r"\s*\|?\s*:?-{2,}")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_MARKS = re.compile(r"[*_`~|#]+")
_SPACE = re.compile(r"\s+")


def plain(markdown: str) -> str:
    """The words of one line's worth of markdown, without its markup."""
    text = _IMAGE.sub(lambda m: f"Image: {m.group(1)}." if m.group(1) else "Image.", markdown)
    text = _TAG.sub(" ", _LINK.sub(r"\1", text))
    return _SPACE.sub(" ", _MARKS.sub(" ", text)).strip()


class Sentences:
    """Feed it the answer's text as it arrives; it returns the sentences completed by each delta."""

    def __init__(self, text: str = "") -> None:
        self._line = ""  # the open (unfinished) line
        self._said = 0  # characters of the open line already said
        self._scan = 0  # where the next search for a sentence end in the open line starts
        self._in_code = False
        if text:
            self.feed(text)  # what was already on screen when this reader arrived is not said again

    def feed(self, delta: str) -> list[str]:
        out: list[str] = []
        *done, self._line = (self._line + delta).split("\n")
        for line in done:
            self._line_done(line, out)
        if not self._in_code and not _FENCE.match(self._line):
            self._sentences_in(self._line, out)
        return out

    def finish(self) -> list[str]:
        """The end of the answer: what is left of the last line is a sentence too."""
        out: list[str] = []
        if self._line:
            self._line_done(self._line, out)
            self._line = ""
        return out

    def _line_done(self, line: str, out: list[str]) -> None:
        if _FENCE.match(line):
            self._in_code = not self._in_code
            if self._in_code:
                out.append(CODE_BLOCK)
        elif not self._in_code and not _TABLE_RULE.match(line):
            self._sentences_in(line, out)
            self._say(line, len(line), out)  # a finished line's last words are a sentence
        self._said = self._scan = 0

    def _sentences_in(self, line: str, out: list[str]) -> None:
        """Says the sentences of `line` (the open line) completed since the last call."""
        while True:
            m = _END.search(line, self._scan)
            if m is None:
                break
            self._say(line, m.end(), out)
        if len(line) - self._said > MAX_SENTENCE:  # no end mark in sight: say it at a space
            cut = line.rfind(" ", self._said, len(line) - 1)
            self._say(line, cut + 1 if cut > self._said else len(line), out)
        self._scan = max(self._said, len(line) - 3)  # an end mark and its closers may still be completing

    def _say(self, line: str, end: int, out: list[str]) -> None:
        piece = line[self._said : end]
        if self._said == 0:
            piece = piece[_LINE_PREFIX.match(piece).end() :]  # type: ignore[union-attr]
        words = plain(piece)
        if words:
            out.append(words)
        self._said = self._scan = end
