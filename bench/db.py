"""How long an answer's checkpoint waits: N answers streaming at once, each saving about once a second.

    uv run python bench/db.py [--answers 100] [--seconds 8] [--threads 2,4,8,16] [--databases sqlite,postgres]

For each database (a SQLite file in a temp dir; a real PostgreSQL from tests/postgres.py, fsync off as
in the tests) and each DB_THREADS value, N streaming answer rows are made, then N asyncio tasks call
`Store.checkpoint_message` once a second (start times spread over the first second), each with a text
~150 characters longer than the last (30 tokens/s), while one new question a second is sent
(`add_message` + `touch_conversation`), as the app does. It prints the time from the call to its
return (queueing in the database threads + the statement) as p50 / p95 / p99 / max, and the calls
done per second. A benchmark, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.models import Message, Status
from services.store import Store, close_database
from tests.postgres import PostgresServer

CHARS_PER_SECOND = 150


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q * 100) - 1] if len(values) > 1 else values[0]


async def run(url: str, threads: int, answers: int, seconds: float) -> tuple[list[float], float]:
    store = Store(url, threads=threads)
    conv = await store.create_conversation("bench", "bench")
    rows = [
        await store.add_message(Message(conversation_id=conv.id, owner="bench", role="assistant", status=s))
        for s in [Status.STREAMING] * answers
    ]
    waits: list[float] = []
    end = time.monotonic() + seconds

    async def answer(i: int, row_id: int) -> None:
        await asyncio.sleep(i / answers)
        text = ""
        while time.monotonic() < end:
            text += "x" * CHARS_PER_SECOND
            t = time.perf_counter()
            await store.checkpoint_message("bench", row_id, text)
            waits.append(time.perf_counter() - t)
            await asyncio.sleep(1.0)

    async def questions() -> None:
        while time.monotonic() < end:
            t = time.perf_counter()
            await store.add_message(Message(conversation_id=conv.id, owner="bench", role="user", content="q"))
            await store.touch_conversation("bench", conv.id)
            waits.append(time.perf_counter() - t)
            await asyncio.sleep(1.0)

    started = time.monotonic()
    await asyncio.gather(questions(), *(answer(i, r.id or 0) for i, r in enumerate(rows)))
    return waits, len(waits) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threads", default="2,4,8,16")
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    databases = args.databases.split(",")
    pg = PostgresServer().start() if "postgres" in databases else None
    tmp = Path(tempfile.mkdtemp(prefix="bench-db-"))
    print(f"{args.answers} answers checkpointing once a second for {args.seconds:g} s; load {os.getloadavg()[0]:.1f}")
    print(f"{'database':<10} {'threads':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'calls/s':>8}")
    try:
        for db in databases:
            for threads in (int(t) for t in args.threads.split(",")):
                url = f"sqlite:///{tmp / f'{threads}.db'}" if db == "sqlite" else pg.url(pg.create_database())  # type: ignore[union-attr]
                waits, rate = asyncio.run(run(url, threads, args.answers, args.seconds))
                close_database(url)
                ms = [w * 1000 for w in waits]
                print(
                    f"{db:<10} {threads:>7} {quantile(ms, 0.5):>8.1f} {quantile(ms, 0.95):>8.1f} "
                    f"{quantile(ms, 0.99):>8.1f} {max(ms):>8.1f} {rate:>8.0f}",
                    flush=True,
                )
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
