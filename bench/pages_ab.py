"""Page path A/B: the same page phase against several checkouts of the app, alternating, medians.

    git archive 292002b | tar -x -C /tmp/co/base        # one directory per commit to compare
    uv run python bench/pages_ab.py load 3 base=/tmp/co/base after=.
    uv run python bench/pages_ab.py run 3 base=/tmp/co/base after=.
    uv run python bench/pages_ab.py load 8 --pin base=/tmp/co/base after=.   # see bench.run.pin_app

``load``: bench/load.py's pages phase (4 Chromium pages, one 300-token answer each at 30 tokens/s,
server CPU per token). ``run``: bench/run.py's 4 pages × 600 tokens at 150 tokens/s (token→screen
latency, websocket frames, CPU). Each checkout runs as its own server on one fake upstream; every
round runs each in turn, the order reversed every other round, because these machines are shared.
The bench code is this checkout's; only the app (``app.py`` and what it imports) comes from each
directory, run with this checkout's virtualenv. A benchmark, not a test: it prints numbers.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.run as br  # noqa: E402
from bench.answers import make_answer  # noqa: E402
from bench.load import SEED, Idle, _FakeAddress, child, run_pages  # noqa: E402
from tests.fake_upstream import FakeUpstream, tokenize  # noqa: E402

PAGES = 4


def start(name: str, path: Path, fake: object, tmp: Path) -> br.Server:
    """bench.run.Server starts ``app.py`` in ``br.ROOT``: point it at the checkout for the start."""
    br.ROOT = path.resolve()
    try:
        spec = br.AppSpec(name, br.APPS["ours"].argv, br.APPS["ours"].body)
        return br.Server(spec, fake, tmp).start()  # type: ignore[arg-type]
    finally:
        br.ROOT = ROOT


def main() -> None:
    mode, rounds, *rest = sys.argv[1:]
    if "--pin" in rest:
        br.pin_app()
    checkouts = {name: Path(path) for name, path in (a.split("=", 1) for a in rest if a != "--pin")}
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    from playwright.sync_api import sync_playwright

    sent = tokenize(make_answer(300, SEED))
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
    fake_proc = child("--serve-fake", "30", "300") if mode == "load" else None
    fake = _FakeAddress(fake_proc.stdout.readline().strip()) if fake_proc else FakeUpstream().start()  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="streamchat-ab-") as tmp, sync_playwright() as pw:
        servers = {name: start(name, path, fake, Path(tmp)) for name, path in checkouts.items()}
        browser = pw.chromium.launch(executable_path=br.CHROMIUM, headless=True, args=br.CHROMIUM_ARGS)
        try:
            idle: dict[str, float] = {}
            for name, server in servers.items():  # warm-up answer, then the idle rate
                if mode == "load":
                    run_pages(server, browser, 1, -1, sent, Idle(0, 0))
                else:
                    br.run_config(browser, server, fake, 0.0, 1, 120, -1, 999)  # type: ignore[arg-type]
                time.sleep(1.0)
                c0 = server.cpu()
                time.sleep(2.0)
                idle[name] = (server.cpu() - c0) / 2.0
            for rnd in range(int(rounds)):
                for name in list(servers) if rnd % 2 == 0 else list(servers)[::-1]:
                    br.wait_quiet(max_wait=5.0)  # the machine is never quiet for long: record, don't wait
                    if mode == "load":
                        phase = run_pages(servers[name], browser, PAGES, rnd, sent, Idle(idle[name], 0))
                        row = phase.summary()
                    else:
                        run = br.run_config(browser, servers[name], fake, idle[name], PAGES, 600, rnd,  # type: ignore[arg-type]
                                            seed=600 + PAGES)
                        row = br.summarise(run)
                        row["cpu_ms_per_token"] = row["cpu"] * 1000 / 600  # summarise's cpu is per page
                    rows[name].append(row)
                    print(rnd, name, json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)
        finally:
            browser.close()
            for server in servers.values():
                server.stop()
            if fake_proc is not None:
                fake_proc.stdin.close()  # type: ignore[union-attr]
                fake_proc.wait(10)
            else:
                fake.stop()  # type: ignore[union-attr]
    print(f"\nmedians of {rounds} rounds ({mode}{', app pinned' if br.APP_CPUS else ''})")
    for name, got in rows.items():
        print(name, json.dumps({k: round(statistics.median(r[k] for r in got), 3) for k in got[0]}))
    print_paired(rows)


def print_paired(rows: dict[str, list[dict[str, float]]]) -> None:
    """Each checkout against the first, round by round: on a machine where the same code's median moves
    ±10 % between invocations, the rounds' ratios and how many went each way say more than two medians."""
    (first, base), *others = rows.items()
    for name, got in others:
        ratios = [r["cpu_ms_per_token"] / b["cpu_ms_per_token"] for r, b in zip(got, base, strict=True)]
        lower = sum(x < 1 for x in ratios)
        print(f"{name} / {first} CPU per token, per round: median {statistics.median(ratios):.3f}"
              f" ({' '.join(f'{x:.2f}' for x in ratios)}); lower in {lower} of {len(ratios)}")


if __name__ == "__main__":
    main()
