"""Micro-benchmark: CPU of reading streamed answers from the model server, per chunk, by HTTP transport.

    uv run python bench/upstream_read.py [--streams 50] [--tokens 300] [--rate 30] [--rounds 3]

`Backend.stream` (the SDK makes the request, services/sse.py reads the body) against the load
bench's fake upstream in its own process: N answers at once, 1 token per chunk at ``--rate``
tokens/s each. It prints this process's CPU (user + system) per chunk for the SDK's default httpx
transport and for aiohttp (`services.llm.http_client`), alternating, and the medians. Nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from openai import DefaultAsyncHttpxClient  # noqa: E402

from bench.load import child  # noqa: E402
from services.llm import openai_backend  # noqa: E402
from services.settings import Settings  # noqa: E402


async def read_all(url: str, transport: str, streams: int) -> tuple[float, int]:
    settings = Settings(_env_file=None, openai_base_url=f"{url}/v1", openai_api_key="k", openai_model="m")
    backend = openai_backend(settings)  # aiohttp, as the app runs
    if transport == "httpx":  # the SDK's default, as before
        backend.client = backend.client.with_options(http_client=DefaultAsyncHttpxClient())
    prompt = [{"role": "user", "content": "q"}]

    async def one() -> int:
        return sum(isinstance(p, str) for p in [p async for p in backend.stream(prompt, True)])

    await one()  # warm-up: imports, first connection
    cpu = time.process_time()
    chunks = sum(await asyncio.gather(*(one() for _ in range(streams))))
    cpu = time.process_time() - cpu
    await backend.aclose()
    return cpu, chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    fake = child("--serve-fake", str(args.rate), str(args.tokens))
    url = fake.stdout.readline().strip()  # type: ignore[union-attr]
    per_chunk: dict[str, list[float]] = {"httpx": [], "aiohttp": []}
    try:
        for rnd in range(args.rounds):
            for transport in ("httpx", "aiohttp") if rnd % 2 == 0 else ("aiohttp", "httpx"):
                cpu, chunks = asyncio.run(read_all(url, transport, args.streams))
                per_chunk[transport].append(cpu / chunks * 1e6)
                per = cpu / chunks * 1e6
                print(f"round {rnd} {transport}: {cpu:.2f} s CPU for {chunks} chunks = {per:.1f} µs/chunk")
    finally:
        fake.stdin.close()  # type: ignore[union-attr]
        fake.wait(10)
    for transport, values in per_chunk.items():
        print(f"{transport}: median {statistics.median(values):.1f} µs CPU per chunk ({args.streams} streams)")


if __name__ == "__main__":
    main()
