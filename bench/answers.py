"""Deterministic mixed-markdown answers for the benchmark (prose, lists, one long code block, a table).

Seeded, so every round and both apps stream exactly the same bytes; each page gets its own seed,
so no server-side cache (NiceGUI's ``prepare_content`` is an ``lru_cache``) can share work between
concurrent pages. A token is one ``tests.fake_upstream.tokenize`` piece (a word with its leading
whitespace), which is how the fake upstream streams it.
"""

from __future__ import annotations

import random
import re

from tests.fake_upstream import tokenize

__all__ = ["make_answer", "probe_positions"]

# No "copy"/"python": those words also appear in our code block's header (button, language label)
# and would confuse the in-order word search in probe_positions().
WORDS = ("stream", "answer", "token", "model", "server", "browser", "render", "block", "patch", "window",
    "frame", "latency", "budget", "markdown", "table", "column", "value", "cache", "socket", "message",
    "buffer", "chunk", "thread", "queue", "event", "signal", "measure", "median", "target", "round", "page",
    "client", "update", "delta", "flush", "commit", "parse", "tail", "list", "item", "paragraph", "sentence",
    "letter", "number", "width", "height", "screen", "pixel", "layout", "paint", "style", "header", "footer",
    "quick", "steady", "small", "large", "early", "later", "always", "never", "often", "rarely", "simple",
    "careful", "honest", "clear", "river", "mountain", "forest", "garden", "window", "kitchen", "harbor",
    "valley", "meadow", "island", "village", "market", "bridge", "yellow", "silver", "purple", "orange",
    "golden", "bright", "quiet", "gentle", "rapid", "narrow", "distant", "ancient", "modern", "people",
    "travel", "explain", "compare", "notice", "follow", "gather", "settle", "wonder", "borrow", "deliver",
    "prepare", "because", "although", "whenever", "therefore", "however", "meanwhile", "instead", "perhaps",
    "indeed", "certainly")
IDENTS = ("items", "value", "total", "count", "result", "buffer", "offset", "limit", "index", "chunk",
          "state", "queue", "event", "delta", "frame", "node", "text", "size", "step", "width")


def _sentence(rng: random.Random, n: int) -> list[str]:
    """n words, capitalised, ending with a period; sometimes bold or inline code on one word."""
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    k = rng.randrange(n)
    roll = rng.random()
    if roll < 0.15:
        words[k] = f"**{words[k]}**"
    elif roll < 0.25:
        words[k] = f"`{words[k]}`"
    words[-1] += "."
    return words


def _paragraph(rng: random.Random, n_tokens: int) -> str:
    out: list[str] = []
    while len(out) < n_tokens:
        out += _sentence(rng, min(rng.randint(8, 18), max(3, n_tokens - len(out))))
    return " ".join(out[:n_tokens])


def _bullets(rng: random.Random, items: int) -> str:
    return "\n".join("- " + " ".join(_sentence(rng, rng.randint(4, 10))) for _ in range(items))


def _numbered(rng: random.Random, items: int) -> str:
    return "\n".join(f"{i}. " + " ".join(_sentence(rng, rng.randint(4, 10))) for i in range(1, items + 1))


def _code(rng: random.Random, n_tokens: int) -> str:
    """A long Python-looking code block of about n_tokens whitespace-separated pieces."""
    lines = ["```python", "def process(items, limit=10):", '    """Walk the items and keep a running total."""',
             "    total = 0"]
    count = 15
    while count < n_tokens:
        a, b, c = rng.choice(IDENTS), rng.choice(IDENTS), rng.choice(IDENTS)
        form = rng.randrange(5)
        if form == 0:
            line = f"    for {a} in {b}:\n        {c} = {c} + len({a})"
        elif form == 1:
            line = f"    if {a} > limit and {b} < {rng.randint(2, 99)}:\n        return {c}"
        elif form == 2:
            line = f"    {a} = {{'{b}': {rng.randint(0, 999)}, '{c}': [{a} * 2 for {a} in range(3)]}}"
        elif form == 3:
            line = f"    # {' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))}"
        else:
            line = f"    {a}.append({b}[{rng.randint(0, 9)}] - {c})"
        lines.append(line)
        count += len(tokenize(line))
    lines += ["    return total", "```"]
    return "\n".join(lines)


def _table(rng: random.Random, n_tokens: int) -> str:
    cols = ["Name", "Region", "Latency", "Status", "Notes"]
    rows = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    count = 13
    while count < n_tokens:
        cells = [rng.choice(WORDS).capitalize(), rng.choice(WORDS), f"{rng.randint(1, 999)} ms",
                 rng.choice(("ok", "slow", "failed", "pending")),
                 " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))]
        row = "| " + " | ".join(cells) + " |"
        rows.append(row)
        count += len(tokenize(row))
    return "\n".join(rows)


def make_answer(n_tokens: int, seed: int) -> str:
    """About n_tokens tokens: heading, prose, lists, a long code block (~25 %), a table (~12 %)."""
    rng = random.Random(seed)
    code_n, table_n = n_tokens // 4, n_tokens // 8
    parts: list[str] = [f"## {' '.join(w.capitalize() for w in _sentence(rng, 4))[:-1]}"]
    sections = ["prose", "bullets", "prose", "code", "prose", "numbered", "prose", "table", "prose", "bullets"]
    done_code = done_table = False
    i = 0
    while True:
        used = len(tokenize("\n\n".join(parts)))
        left = n_tokens - used
        if left <= 0:
            break
        kind = sections[i % len(sections)]
        i += 1
        if kind == "code":
            if done_code:
                continue
            parts.append(_code(rng, min(code_n, left)))
            done_code = True
        elif kind == "table":
            if done_table:
                continue
            parts.append(_table(rng, min(table_n, left)))
            done_table = True
        elif kind == "bullets":
            parts.append(_bullets(rng, rng.randint(3, 6)))
        elif kind == "numbered":
            parts.append(_numbered(rng, rng.randint(3, 5)))
        else:
            if i > 4 and rng.random() < 0.3:
                parts.append(f"### {' '.join(w.capitalize() for w in _sentence(rng, 3))[:-1]}")
            parts.append(_paragraph(rng, min(left, rng.randint(40, 90))))
    text = "\n\n".join(parts)
    toks = tokenize(text)
    if len(toks) > n_tokens:  # cut inside the last part, which is prose or a list (never the code block)
        text = "".join(toks[:n_tokens])
    return text + ("" if text.endswith(".") else ".")


_CORE = re.compile(r"[A-Za-z]{2,}")


def probe_positions(tokens: list[str], final_text: str) -> list[int | None]:
    """For each token, where its first word of >= 2 letters ends in the final rendered text.

    Markup (``**``, ``|``, list numbers, fences) vanishes when rendered, so positions in the
    markdown source are useless; instead each token's word is looked up in order in the text the
    browser finally shows. Tokens without such a word (numbers, pipes, ``-``) get None.
    """
    out: list[int | None] = []
    cursor = 0
    for tok in tokens:
        m = _CORE.search(tok)
        if not m:
            out.append(None)
            continue
        j = final_text.find(m.group(), cursor)
        if j < 0:
            out.append(None)
            continue
        cursor = j + len(m.group())
        out.append(cursor)
    return out
