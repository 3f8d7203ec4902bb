"""Several instances over Redis: how fast Stop crosses, how far a follower on another instance lags,
and what sharing costs the instance that generates.

    uv run python bench/instances.py [--rounds 15] [--tokens 600] [--rate 200]

Two instances in one process (two hubs, two clusters, one SQLite file, a real redis-server from
tests/redis_server.py, real HTTP to the fake upstream), alternating rounds:

- stop: an answer runs on A; Stop is called on B (or, for comparison, on A itself); the time until
  the fake upstream sees A close the connection.
- lag: for each batch of text, when B's reader got it minus when A's publisher sent it.
- entries: Redis Stream entries per answer (one per publisher flush), against the naive pattern of
  one XADD round trip per token, timed here by writing the same tokens both ways.

A benchmark, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from redis.asyncio import Redis

from services import events
from services.answer_stream import stream_key
from services.publisher import Event
from services.store import close_database
from tests.fake_upstream import FakeUpstream, Reply
from tests.redis_server import RedisServer
from tests.unit.test_cluster import Instance, make_instance, settings_for, stop_instances


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def stop_round(fake: FakeUpstream, owner: Instance, stopper: Instance, tokens: int, rate: float) -> float:
    fake.reset()
    fake.enqueue(Reply(text=" ".join(f"w{i}" for i in range(tokens)), interval=1 / rate))
    sent = await owner.chat.send("me", None, "stop me")
    answer_id = sent.assistant_message.id or 0
    async with asyncio.timeout(10):
        while len(sent.generation.publisher.text) < 20:
            await asyncio.sleep(0.005)
        while stopper is not owner and not stopper.cluster.remote.get(answer_id):
            await asyncio.sleep(0.005)
    asked = time.monotonic()
    assert stopper.chat.stop("me", answer_id)
    rec = await fake.wait_for_end_async()
    await asyncio.wait_for(asyncio.shield(sent.generation.settled), 10)
    assert rec.disconnected_at is not None
    return (rec.disconnected_at - asked) * 1000


async def lag_round(fake: FakeUpstream, a: Instance, b: Instance, tokens: int, rate: float) -> tuple[list[float], int]:
    fake.reset()
    fake.enqueue(Reply(text=" ".join(f"w{i}" for i in range(tokens)), interval=1 / rate))
    sent = await a.chat.send("me", None, "follow me")
    answer_id = sent.assistant_message.id or 0
    sent_at: dict[int, float] = {}
    offset = 0

    def on_owner(event: Event) -> None:
        nonlocal offset
        if event.delta:
            offset += len(event.delta)
            sent_at[offset] = time.monotonic()

    _snap, unsubscribe = sent.generation.publisher.subscribe(on_owner)
    lags: list[float] = []
    async for event in await b.chat.subscribe("me", answer_id, after=len(sent.generation.publisher.text)):
        if isinstance(event, events.Delta) and event.offset in sent_at:
            lags.append((time.monotonic() - sent_at[event.offset]) * 1000)
        if isinstance(event, events.Done):
            break
    unsubscribe()
    await asyncio.wait_for(asyncio.shield(sent.generation.settled), 10)
    entries = await a.cluster.redis.xlen(stream_key(answer_id, sent.generation.run))
    return lags, entries


async def xadd_ms(redis: Redis, tokens: list[str], batches: int) -> tuple[float, float]:
    """The same tokens written one round trip each (naive) and in `batches` pipelined flushes."""
    start = time.perf_counter()
    for t in tokens:
        await redis.xadd("bench:naive", {"k": "d", "t": t})
    naive = (time.perf_counter() - start) * 1000
    size = max(1, len(tokens) // batches)
    start = time.perf_counter()
    for i in range(0, len(tokens), size):
        await redis.xadd("bench:batched", {"k": "d", "t": "".join(tokens[i : i + size])})
    batched = (time.perf_counter() - start) * 1000
    await redis.delete("bench:naive", "bench:batched")
    return naive, batched


async def main(rounds: int, tokens: int, rate: float) -> None:
    fake, server = FakeUpstream().start(), RedisServer().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-instances-"))
    db_url = f"sqlite:///{tmp / 'shared.db'}"
    unlimited = {"rate_limit_per_min": 0, "max_concurrent_per_user": 0}  # 3 answers a round, back to back
    settings = settings_for(fake, server.url()).model_copy(update=unlimited)
    a, b = await make_instance(db_url, settings), await make_instance(db_url, settings)
    cross, local, lags, entries, naive, batched = [], [], [], [], [], []
    try:
        for _ in range(rounds):  # alternate, so machine noise falls on both sides alike
            cross.append(await stop_round(fake, a, b, tokens, rate))
            local.append(await stop_round(fake, a, a, tokens, rate))
            round_lags, n = await lag_round(fake, a, b, tokens, rate)
            lags += round_lags
            entries.append(n)
            words = [f"w{i} " for i in range(tokens)]
            n_naive, n_batched = await xadd_ms(a.cluster.redis, words, n)
            naive.append(n_naive)
            batched.append(n_batched)
    finally:
        await stop_instances(a, b)
        close_database(db_url)
        server.cleanup()
        fake.stop()
    print(f"{rounds} rounds, {tokens} tokens at {rate:g}/s, flush every {settings.flush_interval_ms} ms")
    print(f"stop from another instance: median {statistics.median(cross):.1f} ms, p95 {pct(cross, 0.95):.1f} ms, "
          f"max {max(cross):.1f} ms (same instance: median {statistics.median(local):.1f} ms, "
          f"p95 {pct(local, 0.95):.1f} ms)")
    print(f"follower on another instance, lag behind the owner's publisher: median {statistics.median(lags):.1f} ms, "
          f"p95 {pct(lags, 0.95):.1f} ms, max {max(lags):.1f} ms over {len(lags)} batches")
    print(f"stream entries per {tokens}-token answer: median {statistics.median(entries):.0f} "
          f"(naive: {tokens}, one per token)")
    print(f"writing one answer's tokens to Redis: naive one XADD per token {statistics.median(naive):.1f} ms, "
          f"one per flush {statistics.median(batched):.1f} ms (medians)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--tokens", type=int, default=600)
    parser.add_argument("--rate", type=float, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.tokens, args.rate))
