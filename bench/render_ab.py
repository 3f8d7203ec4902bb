"""Render work of one streamed answer at a model's pace, for several checkouts, alternating.

    git archive 3607ffe | tar -x -C /tmp/co/base
    uv run python bench/render_ab.py [--rounds 4] [--tokens 300] base=/tmp/co/base now=.

The load bench's 300-token answer (prose, a list, code, a table) is fed to each checkout's
`MarkdownStream` one or two tokens at a time, as the publisher's 50 ms flushes group a 30 tokens/s
stream, then finished. Each checkout runs in its own process (its own `services` package, this
checkout's virtualenv), the order reversed every other round; printed: CPU ms per answer (best of 7
in each round), medians over rounds. `naive` is the pattern the stream replaces: a full
`render_markdown` of the text so far on every flush. A benchmark, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _groups(tokens: int) -> list[str]:
    from bench.answers import make_answer
    from bench.load import SEED
    from tests.fake_upstream import tokenize

    toks = tokenize(make_answer(tokens, SEED))
    groups: list[str] = []
    i = 0
    while i < len(toks):
        n = 1 + len(groups) % 2
        groups.append("".join(toks[i : i + n]))
        i += n
    return groups


def measure(app: Path, tokens: int, naive: bool) -> float:
    """CPU ms for one answer, best of 7, with the checkout at `app` first on the import path."""
    sys.path[:0] = [str(app), str(ROOT)]
    from services.markdown import MarkdownStream, render_markdown

    groups = _groups(tokens)
    best = float("inf")
    for _ in range(7):
        t0 = time.process_time()
        if naive:
            text = ""
            for g in groups:
                text += g
                render_markdown(text)
        else:
            stream = MarkdownStream()
            for g in groups:
                stream.feed(g)
            stream.finish()
        best = min(best, time.process_time() - t0)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--one", nargs=2, metavar=("DIR", "KIND"), help=argparse.SUPPRESS)
    parser.add_argument("apps", nargs="*", metavar="NAME=DIR", default=["now=."])
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(Path(args.one[0]).resolve(), args.tokens, args.one[1] == "naive")))
        return
    runs = [(name, path, "stream") for name, path in (a.split("=", 1) for a in args.apps)]
    runs.append(("naive", runs[-1][1], "naive"))
    results: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for r in range(args.rounds):
        for name, path, kind in runs if r % 2 == 0 else reversed(runs):
            cmd = [sys.executable, __file__, "--tokens", str(args.tokens), "--one", path, kind]
            results[name].append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout))
    print(f"{args.tokens}-token answer fed 1-2 tokens per flush; CPU ms per answer, medians of {args.rounds} rounds")
    for name, values in results.items():
        print(f"{name:>8} {statistics.median(values):8.1f}   rounds: {' '.join(f'{v:.1f}' for v in values)}")


if __name__ == "__main__":
    main()
