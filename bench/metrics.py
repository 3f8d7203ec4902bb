"""What the Prometheus series cost: per answer, per scrape, and (by design) nothing per token.

    uv run python bench/metrics.py [--answers 20000] [--tokens 600]

An answer is counted when its task starts (`Metrics.track`) and once when it ends (a done callback:
two histograms, four counters); tokens come from the usage the model reports, so streaming adds no
metrics work. This runs N short asyncio tasks, like answers, with and without `track`, and prints the
added time per answer next to the time the publisher spends on one 600-token answer's deltas, then
the time of one `/metrics` exposition. A benchmark, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.chunks import Ending
from services.metrics import Metrics
from services.models import Status
from services.publisher import BatchingPublisher


async def answers(n: int, metrics: Metrics | None) -> float:
    """Seconds for n answers' tasks to start and end (each a no-op), tracked or not."""
    start = time.perf_counter()
    for _ in range(n):
        gen = SimpleNamespace(task=None, started_at=time.time(), first_token_at=time.time(), error=None,
                              ending=Ending(finish_reason="stop", prompt_tokens=50, completion_tokens=600),
                              publisher=SimpleNamespace(status=Status.DONE))

        async def run() -> None:
            return None

        gen.task = asyncio.get_running_loop().create_task(run())
        if metrics is not None:
            metrics.track(gen)  # type: ignore[arg-type]
        await gen.task
        await asyncio.sleep(0)  # let the done callbacks run
    return time.perf_counter() - start


async def publishing(tokens: int) -> float:
    """Seconds the publisher spends taking one answer's tokens (the per-token path metrics stay out of)."""
    publisher = BatchingPublisher(0.05)
    start = time.perf_counter()
    for i in range(tokens):
        publisher.add(f" tok{i}")
    publisher.close(Status.DONE)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=20000)
    parser.add_argument("--tokens", type=int, default=600)
    args = parser.parse_args()
    metrics = Metrics()
    plain, tracked = [], []
    for _ in range(5):  # alternate, so drift on a shared machine hits both
        plain.append(asyncio.run(answers(args.answers, None)))
        tracked.append(asyncio.run(answers(args.answers, metrics)))
    added_us = (statistics.median(tracked) - statistics.median(plain)) / args.answers * 1e6
    publish_us = statistics.median(asyncio.run(publishing(args.tokens)) for _ in range(20)) * 1e6
    scrape_us = statistics.median(timed(metrics.exposition) for _ in range(200)) * 1e6
    print(f"answers: {args.answers} x 5 runs each way")
    print(f"  untracked: {statistics.median(plain) / args.answers * 1e6:.1f} us/answer (task start + end)")
    print(f"  tracked:   {statistics.median(tracked) / args.answers * 1e6:.1f} us/answer")
    print(f"  metrics add {added_us:.1f} us per answer, 0 per token")
    print(f"publisher, one {args.tokens}-token answer: {publish_us:.0f} us")
    print(f"/metrics exposition: {scrape_us:.0f} us ({len(metrics.exposition())} bytes)")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
