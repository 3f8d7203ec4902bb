"""How long an answer's checkpoint waits: N answers streaming at once, each saving about once a second.

    uv run python bench/db.py [--answers 100] [--seconds 8] [--threads 1,2,4,8,16] [--databases sqlite,postgres]

For each database (a SQLite file in a temp dir; a real PostgreSQL from tests/postgres.py, fsync off as
in the tests) and each DB_THREADS value, N streaming answer rows are made, then N asyncio tasks each
save their own row once a second (`Store.checkpoint_messages` with one row: the unbatched worst case;
the app's `CheckpointWriter` saves all running answers in one statement per tick), start times spread
over the first second, each with a text ~150 characters longer than the last (30 tokens/s), while one
new question a second is sent (`Store.start_turn`) and pages open a long thread (`list_turns`, 20 turns of
~3 KB answers, `--reads` a second), as the app does. It prints the time from a write's call to its
return (queueing in the database threads + the statement) as p50 / p95 / p99 / max, the same for
the page reads, and the writes done per second. A benchmark, not a test: nothing asserts.
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
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] if len(values) > 1 else values[0]


async def run(
    url: str, threads: int, answers: int, seconds: float, reads: float
) -> tuple[list[float], list[float], float]:
    store = Store(url, threads=threads)
    conv = await store.create_conversation("bench", "bench")
    long = await store.create_conversation("bench", "long thread")
    parent = None  # each question follows the one before (one branch)
    for i in range(40):
        q = await store.add_message(
            Message(conversation_id=long.id, owner="bench", role="user", content=f"q{i}", parent_id=parent)
        )
        parent = q.id
        await store.add_message(
            Message(conversation_id=long.id, owner="bench", role="assistant", content="y" * 3000, reply_to=q.id)
        )
    rows = [
        await store.add_message(Message(conversation_id=conv.id, owner="bench", role="assistant", status=s))
        for s in [Status.STREAMING] * answers
    ]
    waits: list[float] = []
    read_waits: list[float] = []
    end = time.monotonic() + seconds

    async def answer(i: int, row_id: int) -> None:
        await asyncio.sleep(i / answers)
        text = ""
        while time.monotonic() < end:
            text += "x" * CHARS_PER_SECOND
            t = time.perf_counter()
            await store.checkpoint_messages([("bench", row_id, text)])
            waits.append(time.perf_counter() - t)
            await asyncio.sleep(1.0)

    async def questions() -> None:
        while time.monotonic() < end:
            t = time.perf_counter()
            await store.start_turn("bench", conv.id, "q", title="bench", model="bench", create=False)
            waits.append(time.perf_counter() - t)
            await asyncio.sleep(1.0)

    async def pages() -> None:
        while time.monotonic() < end:
            t = time.perf_counter()
            await store.list_turns("bench", long.id, limit=20)
            read_waits.append(time.perf_counter() - t)
            await asyncio.sleep(1 / reads)

    started = time.monotonic()
    await asyncio.gather(questions(), pages(), *(answer(i, r.id or 0) for i, r in enumerate(rows)))
    return waits, read_waits, len(waits) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threads", default="1,2,4,8,16")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--reads", type=float, default=5.0, help="page opens per second")
    args = parser.parse_args()
    databases = args.databases.split(",")
    pg = PostgresServer().start() if "postgres" in databases else None
    tmp = Path(tempfile.mkdtemp(prefix="bench-db-"))
    print(f"{args.answers} answers checkpointing once a second for {args.seconds:g} s; load {os.getloadavg()[0]:.1f}")
    print(
        f"{'database':<10} {'threads':>7} {'writes: p50 ms':>14} {'p95':>6} {'p99':>6} {'max':>6} "
        f"{'reads: p50 ms':>13} {'p95':>6} {'max':>6} {'writes/s':>8}"
    )
    try:
        for db in databases:
            for threads in (int(t) for t in args.threads.split(",")):
                url = f"sqlite:///{tmp / f'{threads}.db'}" if db == "sqlite" else pg.url(pg.create_database())  # type: ignore[union-attr]
                waits, read_waits, rate = asyncio.run(run(url, threads, args.answers, args.seconds, args.reads))
                close_database(url)
                ms = [w * 1000 for w in waits]
                read = [w * 1000 for w in read_waits]
                print(
                    f"{db:<10} {threads:>7} {quantile(ms, 0.5):>14.1f} {quantile(ms, 0.95):>6.0f} "
                    f"{quantile(ms, 0.99):>6.0f} {max(ms):>6.0f} {quantile(read, 0.5):>13.1f} "
                    f"{quantile(read, 0.95):>6.0f} {max(read):>6.0f} {rate:>8.0f}",
                    flush=True,
                )
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
