"""Full-text search, the parts both databases share: what a typed query means, and the snippet.

A query is words, never syntax: quotes, `*`, `AND`, `-` and other punctuation are ignored, every word
must occur, and the last one also matches as a prefix (the user may still be typing it). The store turns
`Query.words` into an FTS5 MATCH (SQLite) or a tsquery (PostgreSQL); both split words on what is not a
letter or digit, as `words()` does here. Text those tokenizers cannot split into words (Chinese, Japanese
and Korean, written without spaces; emoji and other symbols, which they drop) is found by substring
instead: `Query.substring`.

Snippets are cut and highlighted here, the same way for both databases: plain text plus the character
spans to mark, so a page escapes the text before it marks it and the API can hand out both.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 200
MAX_WORDS = 8  # beyond this a query only gets slower, not better
SNIPPET_CHARS = 120

_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    """Runs of letters and digits, as the FTS tokenizers see them."""
    return _WORD.findall(text)


def _wide_or_symbol(ch: str) -> bool:
    """A character the word tokenizers cannot index on its own: CJK (no spaces between words) or a
    non-ASCII symbol such as an emoji (they drop it)."""
    if ch.isascii():
        return False
    return unicodedata.east_asian_width(ch) in "WF" or unicodedata.category(ch).startswith("S")


@dataclass(frozen=True)
class Query:
    """What to look for: `words` (AND, the last one as a prefix) or, when `substring`, each of `words`
    as a case-insensitive substring."""

    words: tuple[str, ...]
    substring: bool = False

    @classmethod
    def parse(cls, text: str) -> Query:
        text = unicodedata.normalize("NFC", text[:MAX_QUERY_CHARS])
        if any(_wide_or_symbol(ch) for ch in text):
            terms = [t for t in (raw.strip("\"'*()-+.,;:!?") for raw in text.split()) if t]
            return cls(tuple(terms[:MAX_WORDS]), substring=True)
        return cls(tuple(words(text)[:MAX_WORDS]))

    def __bool__(self) -> bool:
        return bool(self.words)

    def fts5(self) -> str:
        """An FTS5 MATCH expression: each word a quoted string (no operator can get in), the last a prefix."""
        quoted = ['"' + w.replace('"', '""') + '"' for w in self.words]
        quoted[-1] += "*"
        return " ".join(quoted)

    def tsquery(self) -> str:
        """A `to_tsquery('simple', …)` text: each word quoted as a lexeme, joined by AND, the last a prefix."""
        quoted = ["'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in self.words]
        quoted[-1] += ":*"
        return " & ".join(quoted)

    @functools.cached_property
    def _each(self) -> list[re.Pattern[str]]:
        """A regex per word, for text folded by `fold`: at a word start, whole words but the last
        (substrings anywhere in substring mode)."""
        folded = [re.escape(fold(w)) for w in self.words]
        if not self.substring:
            *whole, last = folded
            folded = [rf"(?<![^\W_]){w}(?![^\W_])" for w in whole] + [rf"(?<![^\W_]){last}[^\W_]*"]
        return [re.compile(p) for p in folded]

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        """Any of the words, longest first, in folded text."""
        return re.compile("|".join(sorted((p.pattern for p in self._each), key=len, reverse=True)))

    def matches(self, text: str) -> bool:
        """Every word occurs in `text` (used for titles, which are few and short enough to check here)."""
        folded = fold(text)
        return bool(self.words) and all(p.search(folded) for p in self._each)


def fold(text: str) -> str:
    """Lower case without accents, one character per character of `text` (so spans map back)."""
    if text.isascii():
        return text.lower()
    return "".join(ch.lower() if ch.isascii() else _fold_char(ch) for ch in text)


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    kept = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)).lower()
    return kept if len(kept) == 1 else ch.lower() if len(ch.lower()) == 1 else ch


@dataclass(frozen=True)
class Snippet:
    """Plain text and the `(start, end)` character spans in it that matched, in order."""

    text: str
    marks: tuple[tuple[int, int], ...] = ()


def snippet(text: str, query: Query, width: int = SNIPPET_CHARS) -> Snippet:
    """About `width` characters of `text` on one line around its first match, with every match marked;
    the start of the text when nothing matches (a title-only hit)."""
    flat = " ".join(text.split())
    found = [m.span() for m in query.pattern.finditer(fold(flat))] if query else []
    start = 0
    if found and found[0][1] > width:
        start = max(0, found[0][0] - width // 3)
        space = flat.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 15 else start
    end = min(len(flat), start + width)
    if end < len(flat):
        space = flat.rfind(" ", start + width // 2, end)
        end = space if space > 0 else end
    lead, tail = ("…" if start else ""), ("…" if end < len(flat) else "")
    shift = len(lead) - start
    marks = tuple((a + shift, min(b, end) + shift) for a, b in found if a >= start and a < end)
    return Snippet(lead + flat[start:end] + tail, marks)


@dataclass(frozen=True)
class SearchHit:
    """One result: a message that matched (or, with `message_id` None, a conversation's title)."""

    conversation_id: str
    title: str
    message_id: int | None
    role: str | None
    snippet: Snippet
    title_marks: tuple[tuple[int, int], ...] = ()
