"""Client CPU per streamed chunk: the SDK's typed stream against our raw SSE reader (#7, #8).

    uv run python bench/parse.py [--tokens 20000] [--rounds 5]

One answer of `--tokens` one-token chunks (Azure-shaped, with content-filter fields) comes from
the fake upstream over real loopback HTTP as fast as it can send. The client reads it two ways,
alternating rounds: *sdk* is the usual pattern (`create(stream=True)`, iterate the typed chunks,
read `choices[0].delta.content`); *raw* is what `Generation` does (`Backend.stream`: the SDK's
`with_streaming_response`, `services.sse.chat_chunks`, `AnswerReader`). CPU is the reading thread's own time
(`time.thread_time`), so the fake upstream's thread is not counted. Prints the median per round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path

from openai import AsyncOpenAI

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.llm import Backend, openai_backend  # noqa: E402
from services.settings import Settings  # noqa: E402
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


async def read_raw(backend: Backend) -> int:
    text: list[str] = []
    async with contextlib.aclosing(backend.stream(PROMPT, stream=True)) as parts:
        async for part in parts:
            if isinstance(part, str):
                text.append(part)
    return len("".join(text))


async def one_round(fake: FakeUpstream, backend: Backend, how: str, tokens: int) -> float:
    fake.enqueue(Reply(text="tok " * tokens))
    started = time.thread_time()
    size = await (read_sdk(backend.client) if how == "sdk" else read_raw(backend))
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
    settings = Settings(_env_file=None, openai_base_url=f"{fake.url}/v1", openai_api_key="k", openai_model="m")
    backend = openai_backend(settings)
    try:
        await one_round(fake, backend, "sdk", 200)  # warm both paths: imports, model classes, connection
        await one_round(fake, backend, "raw", 200)
        results: dict[str, list[float]] = {"sdk": [], "raw": []}
        for i in range(args.rounds):
            for how in ("sdk", "raw") if i % 2 == 0 else ("raw", "sdk"):
                results[how].append(await one_round(fake, backend, how, args.tokens))
    finally:
        await backend.aclose()
        fake.stop()
    print(f"{args.tokens} chunks per round, {args.rounds} rounds each, alternating; client CPU per chunk")
    for how, label in (("sdk", "SDK typed stream (naive)"), ("raw", "Backend.stream (ours)")):
        xs = results[how]
        print(f"  {label:32} median {statistics.median(xs):6.1f} µs  (min {min(xs):.1f}, max {max(xs):.1f})")
    ratio = statistics.median(results["sdk"]) / statistics.median(results["raw"])
    print(f"  the raw reader costs 1/{ratio:.1f} of the SDK's per chunk")


if __name__ == "__main__":
    asyncio.run(main())
