"""Search latency on 10,000 messages: the full-text index against the naive `LIKE '%word%'` scan, and what
indexing costs a streaming answer's checkpoint.

    uv run python bench/search.py [--messages 10000] [--owners 5] [--queries 200] [--rounds 6]
                                  [--databases sqlite,postgres] [--ticks 30]

Data: per database (a SQLite file in a temp dir; a real PostgreSQL from tests/postgres.py, fsync off as
in the tests) `--messages` rows spread over `--owners` owners, in conversations of 10 turns; questions
~40-400 characters, answers ~300-6,000 (log-normal), words drawn from a 6,000-word vocabulary with
Zipf-like frequencies (seeded), inserted through the app's migrations and triggers.
Search: `--queries` queries per round (in turn a frequent word, a rare word, two words, a prefix being typed),
each by a random owner, through `Store.search` as the page and API call it (titles, message query,
snippets). Rounds alternate which method goes first: "fts" (the index) and "like" (the same call with
`Query(..., substring=True)`: `lower(content) LIKE '%word%'` for each word, owner-scoped, newest first).
Prints p50 / p95 / max per method over all rounds, and each round's p95.
Checkpoints: 50 streaming answers of ~3,000 characters each grow by 150 characters a tick, saved in one
statement per tick as the app's `CheckpointWriter` does, for `--ticks` ticks: "final only" (as shipped:
the index skips streaming rows) against "every checkpoint" (the same database with SQLite's update
trigger made unconditional, or PostgreSQL's generated column computed while streaming too).
A benchmark: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from services.models import Conversation, Message, Status, utcnow
from services.search import Query
from services.store import Store, close_database
from tests.postgres import PostgresServer

SYLLABLES = ("ka", "lo", "mi", "ne", "tu", "ra", "si", "po", "le", "va", "da", "ru",
             "fi", "xo", "be", "zu", "ti", "ma", "no", "shi", "ke", "ya", "gu", "re")
VOCABULARY = 6000
TURNS = 10


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] if len(values) > 1 else values[0]


def vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda _: rng.random())


class Text:
    """Zipf-like prose: word i is drawn with weight 1/(i+1)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = vocabulary(rng)
        self.weights = list(itertools.accumulate(1 / (i + 1) for i in range(VOCABULARY)))

    def prose(self, chars: int) -> str:
        out: list[str] = []
        size = 0
        while size < chars:
            sentence = self.rng.choices(self.words, cum_weights=self.weights, k=self.rng.randint(6, 18))
            line = " ".join(sentence).capitalize() + "."
            out.append(line)
            size += len(line) + 1
        return " ".join(out)

    def length(self, median: float, low: int, high: int) -> int:
        return int(min(high, max(low, self.rng.lognormvariate(math.log(median), 0.7))))


def seed(store: Store, prose: Text, messages: int, owners: int) -> None:
    """Conversations of TURNS turns, round-robin over the owners, in one transaction per conversation."""
    made = 0
    n = 0
    while made < messages:
        owner = f"owner{n % owners}"
        conv = Conversation(owner=owner, title=prose.prose(30)[:50])
        rows = []
        for _ in range(min(TURNS, (messages - made) // 2 or 1)):
            rows.append({"role": "user", "content": prose.prose(prose.length(120, 40, 400))})
            rows.append({"role": "assistant", "content": prose.prose(prose.length(1200, 300, 6000))})
        now = utcnow()
        with store.engine.begin() as conn:
            conn.execute(insert(Conversation), [conv.model_dump()])
            conn.execute(
                insert(Message),
                [
                    {**r, "conversation_id": conv.id, "owner": owner, "status": Status.DONE, "model": "m",
                     "finish_reason": "", "error": "", "created_at": now, "updated_at": now}
                    for r in rows
                ],
            )
        made += len(rows)
        n += 1


KINDS = ("frequent word", "rare word", "two words", "prefix")


def queries(prose: Text, count: int, owners: int) -> list[tuple[str, str]]:
    """(owner, query), the kinds in turn: KINDS[i % 4] for query i."""
    rng = prose.rng
    out = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        if kind == "frequent word":
            q = prose.words[rng.randint(10, 200)]
        elif kind == "rare word":
            q = prose.words[rng.randint(1000, VOCABULARY - 1)]
        elif kind == "two words":
            q = f"{prose.words[rng.randint(5, 400)]} {prose.words[rng.randint(5, 400)]}"
        else:
            word = prose.words[rng.randint(10, 2000)]
            q = word[: max(3, len(word) - 2)]
        out.append((f"owner{rng.randrange(owners)}", q))
    return out


async def timed(calls: list[Callable[[], Awaitable[object]]]) -> list[float]:
    out = []
    for call in calls:
        t = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t) * 1000)
    return out


async def search_rounds(store: Store, qs: list[tuple[str, str]], rounds: int) -> dict[str, list[list[float]]]:
    def calls(substring: bool) -> list[Callable[[], Awaitable[object]]]:
        made = []
        for owner, q in qs:
            query = Query.parse(q)
            query = Query(query.words, substring=True) if substring else query
            made.append(lambda o=owner, qq=query: store.search(o, qq, 20))
        return made

    results: dict[str, list[list[float]]] = {"fts": [], "like": []}
    await timed(calls(False)[:20] + calls(True)[:20])  # warm caches and the pool
    for r in range(rounds):
        order = ("fts", "like") if r % 2 == 0 else ("like", "fts")
        for method in order:
            results[method].append(await timed(calls(method == "like")))
    return results


async def checkpoint_ticks(store: Store, ticks: int, answers: int = 50) -> list[float]:
    conv = await store.create_conversation("cp", "cp")
    rows = [
        await store.add_message(Message(conversation_id=conv.id, owner="cp", role="assistant", status=Status.STREAMING))
        for _ in range(answers)
    ]
    body = "word " * 600
    out = []
    for tick in range(ticks):
        batch = [("cp", r.id or 0, body + f"more{tick} " * 30 * (tick + 1)) for r in rows]
        t = time.perf_counter()
        await store.checkpoint_messages(batch)
        out.append((time.perf_counter() - t) * 1000)
    return out


EVERY_CHECKPOINT = {
    "sqlite": [
        "DROP TRIGGER message_fts_update",
        """CREATE TRIGGER message_fts_update AFTER UPDATE OF content, status ON message BEGIN
            INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.id, old.content);
            INSERT INTO message_fts(rowid, content) VALUES (new.id, new.content);
        END""",
        "INSERT INTO message_fts(rowid, content) SELECT id, content FROM message WHERE status = 'streaming'",
    ],
    "postgres": [
        "DROP INDEX ix_message_search",
        "ALTER TABLE message DROP COLUMN search_vector",
        "ALTER TABLE message ADD COLUMN search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, content)) STORED",
        "CREATE INDEX ix_message_search ON message USING gin (search_vector)",
    ],
}


def row(name: str, ms: list[float]) -> str:
    return f"  {name:<16} p50 {quantile(ms, 0.5):7.1f} ms   p95 {quantile(ms, 0.95):7.1f} ms   max {max(ms):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--owners", type=int, default=5)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    databases = args.databases.split(",")
    pg = PostgresServer().start() if "postgres" in databases else None
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    print(f"{args.messages:,} messages, {args.owners} owners, {args.queries} queries x {args.rounds} rounds; "
          f"load {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores", flush=True)
    try:
        for db in databases:
            url = f"sqlite:///{tmp / 'search.db'}" if db == "sqlite" else pg.url(pg.create_database())  # type: ignore[union-attr]
            store = Store(url)
            prose = Text(random.Random(10))
            t = time.perf_counter()
            seed(store, prose, args.messages, args.owners)
            if db == "postgres":
                with store.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            with store.engine.connect() as conn:
                chars = conn.execute(text("SELECT sum(length(content)) FROM message")).scalar() or 0
            print(f"\n{db}: seeded in {time.perf_counter() - t:.1f} s, {chars / 1e6:.1f} M characters", flush=True)
            results = asyncio.run(search_rounds(store, queries(prose, args.queries, args.owners), args.rounds))
            for method, per_round in results.items():
                print(row(method, [ms for r in per_round for ms in r]) + "   round p95s "
                      + " ".join(f"{quantile(r, 0.95):.1f}" for r in per_round))
                for k, kind in enumerate(KINDS):
                    print(row(f"  {kind}", [ms for r in per_round for ms in r[k :: len(KINDS)]]))
            final = asyncio.run(checkpoint_ticks(store, args.ticks))
            with store.engine.begin() as conn:
                for statement in EVERY_CHECKPOINT[db]:
                    conn.execute(text(statement))
            every = asyncio.run(checkpoint_ticks(store, args.ticks))
            print("  checkpoint of 50 streaming answers (one statement per tick):")
            print(row("final only", final))
            print(row("every checkpoint", every), flush=True)
            close_database(url)
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
