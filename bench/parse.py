"""Client CPU per streamed chunk: the SDK's typed stream against our raw SSE reader (#7, #8).

    uv run python bench/parse.py [--tokens 20000] [--rounds 5]

One answer of `--tokens` one-token chunks (Azure-shaped, with content-filter fields) comes from
the fake upstream over real loopback HTTP as fast as it can send. The client reads it two ways,
alternating rounds: *sdk* is the usual pattern (`create(stream=True)`, iterate the typed chunks,
read `choices[0].delta.content`); *raw* is what `Generation` does (`with_streaming_response`,
`services.sse.chat_chunks`, `AnswerReader`). CPU is the reading thread's own time
(`time.thread_time`), so the fake upstream's thread is not counted. Prints the median per round.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from openai import AsyncOpenAI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.chunks import AnswerReader  # noqa: E402
from services.sse import chat_chunks  # noqa: E402
from tests.fake_upstream import FakeUpstream, Reply  # noqa: E402

PROMPT = [{"role": "user", "content": "go"}]


async def read_sdk(client: AsyncOpenAI) -> int:
    text: list[str] = []
    stream = await client.chat.completions.create(model="m", messages=PROMPT, stream=True)
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
    return len("".join(text))


async def read_raw(client: AsyncOpenAI) -> int:
    text: list[str] = []
    reader = AnswerReader(text.append)
    opened = client.chat.completions.with_streaming_response.create(model="m", messages=PROMPT, stream=True)
    async with opened as response:
        async for chunk in chat_chunks(response.http_response):
            reader.chunk(chunk)
    return len("".join(text))


async def one_round(fake: FakeUpstream, client: AsyncOpenAI, how: str, tokens: int) -> float:
    fake.enqueue(Reply(text="tok " * tokens))
    started = time.thread_time()
    size = await (read_sdk if how == "sdk" else read_raw)(client)
    spent = time.thread_time() - started
    if size < 3 * tokens:
        raise RuntimeError(f"{how}: read {size} characters, expected about {4 * tokens}")
    return spent / tokens * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    fake = FakeUpstream().start()
    client = AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="k", max_retries=0)
    try:
        await one_round(fake, client, "sdk", 200)  # warm both paths: imports, model classes, connection
        await one_round(fake, client, "raw", 200)
        results: dict[str, list[float]] = {"sdk": [], "raw": []}
        for i in range(args.rounds):
            for how in ("sdk", "raw") if i % 2 == 0 else ("raw", "sdk"):
                results[how].append(await one_round(fake, client, how, args.tokens))
    finally:
        await client.close()
        fake.stop()
    print(f"{args.tokens} chunks per round, {args.rounds} rounds each, alternating; client CPU per chunk")
    for how, label in (("sdk", "SDK typed stream (naive)"), ("raw", "raw SSE + AnswerReader (ours)")):
        xs = results[how]
        print(f"  {label:32} median {statistics.median(xs):6.1f} µs  (min {min(xs):.1f}, max {max(xs):.1f})")
    ratio = statistics.median(results["sdk"]) / statistics.median(results["raw"])
    print(f"  the raw reader costs 1/{ratio:.1f} of the SDK's per chunk")


if __name__ == "__main__":
    asyncio.run(main())
