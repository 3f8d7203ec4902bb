"""Micro-benchmark: CPU per event of the API's event path with its keep-alive pings: this tree's
`follow(gen, 0, idle_s=15)` (the subscription's own wait times out) against `with_pings` from
`api/v1/wire.py` at a git commit (a task and an `asyncio.wait` per event, until 84d3805).

    uv run python bench/pings.py [--events 20000] [--streams 50] [--rounds 5] [--base 84d3805]

`--streams` readers each follow their own answer; one writer publishes a token to every answer per
step, then lets the loop run, as 50 ms flushes at 30 tokens/s do. Prints the medians. Nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.events import follow  # noqa: E402
from services.models import Phase, Status  # noqa: E402
from services.publisher import BatchingPublisher  # noqa: E402


def wire_at(commit: str) -> types.ModuleType:
    """`api/v1/wire.py` as it was at `commit`, loaded as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{commit}:api/v1/wire.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType(f"wire_{commit}")
    exec(compile(source, f"{commit}:api/v1/wire.py", "exec"), module.__dict__)
    return module


def pinged_by_task(module: Any) -> Any:
    return lambda gen: module.with_pings(follow(gen, 0), 15.0)


def pinged_by_timeout(gen: Any) -> Any:
    return follow(gen, 0, idle_s=15.0)


async def run(reader: Any, events: int, streams: int) -> float:
    gens = []
    for _ in range(streams):
        pub = BatchingPublisher(interval_s=0)
        pub.set_phase(Phase.STREAMING)
        gens.append(types.SimpleNamespace(publisher=pub, ending=None, ttft_ms=None, duration_ms=None))

    async def read(gen: Any) -> int:
        return len([e async for e in reader(gen)])

    readers = [asyncio.create_task(read(g)) for g in gens]
    await asyncio.sleep(0)
    cpu = time.process_time()
    for i in range(events // streams):
        for g in gens:
            g.publisher.add(f"t{i} ")
        await asyncio.sleep(0)
    for g in gens:
        g.publisher.close(Status.DONE)
    await asyncio.gather(*readers)
    return (time.process_time() - cpu) / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--base", default="84d3805")
    args = parser.parse_args()
    versions = {f"with_pings at {args.base}": pinged_by_task(wire_at(args.base)), "this tree": pinged_by_timeout}
    results: dict[str, list[float]] = {name: [] for name in versions}
    for rnd in range(args.rounds):
        for name in list(versions)[:: 1 if rnd % 2 == 0 else -1]:
            results[name].append(asyncio.run(run(versions[name], args.events, args.streams)))
    for name, values in results.items():
        print(f"{name}: median {statistics.median(values):.1f} µs CPU per event ({args.streams} streams)")


if __name__ == "__main__":
    main()
