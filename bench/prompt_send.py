"""Micro-benchmark: event-loop CPU to send one prompt to the model, by how the prompt is handed to the SDK.

    uv run python bench/prompt_send.py [--rounds 5] [--requests 40]

`Backend.stream` puts the prompt in `extra_body` (sent as it is); the SDK's typed `messages=`
argument walks every message through its transform first. For threads of 2, 20 and 100 messages
(~100 words each), N sequential 1-token answers from the fake upstream (tests/fake_upstream.py, in
this process's background thread), alternating the two ways every round; prints the medians of
CPU per request (this process, user + system). Nothing asserts.
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

from services.llm import openai_backend  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.fake_upstream import FakeUpstream, Reply  # noqa: E402


def thread(n: int) -> list[dict[str, str]]:
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": "word " * 100} for i in range(n - 1)]
    return [{"role": "system", "content": "You are helpful."}, *turns]


async def main(rounds: int, requests: int) -> None:
    fake = FakeUpstream().start()
    fake.default = Reply(text="ok")
    backend = openai_backend(Settings(_env_file=None, openai_base_url=f"{fake.url}/v1", openai_api_key="k",
                                      openai_model="m"))
    completions = backend.client.chat.completions

    async def ours(prompt: list[dict[str, str]]) -> None:
        async for _ in backend.stream(prompt, True):
            pass

    async def typed(prompt: list[dict[str, str]]) -> None:  # the SDK's own way: messages= through its transform
        opened = completions.with_streaming_response.create(
            model="m", messages=prompt, stream=True, stream_options={"include_usage": True}  # type: ignore[arg-type]
        )
        async with opened as response:
            await response.http_response.aread()

    ways = {"extra_body (ours)": ours, "messages= (SDK transform)": typed}
    for size in (2, 20, 100):
        prompt = thread(size)
        for way in ways.values():
            await way(prompt)  # warm-up: connection, imports
        cpu: dict[str, list[float]] = {name: [] for name in ways}
        for rnd in range(rounds):
            for name in list(ways) if rnd % 2 == 0 else list(ways)[::-1]:
                t0 = time.process_time()
                for _ in range(requests):
                    await ways[name](prompt)
                cpu[name].append((time.process_time() - t0) / requests * 1000)
        print(f"{size:4d} messages: " + " · ".join(
            f"{name} {statistics.median(v):.2f} ms" for name, v in cpu.items()), flush=True)
    await backend.aclose()
    fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.requests))
