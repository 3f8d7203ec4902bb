"""Capacity benchmark: many concurrent API streams (and optionally browser pages) on one app process.

    uv run python bench/load.py [--streams 100] [--answers 2] [--rate 30] [--tokens 300] [--rounds 3] [--pages 4]
                                [--app DIR]

Three processes besides the app share the machine, each kept cheap: the fake upstream (its own
process; pre-encoded chunks, 1 token per chunk at ``--rate`` tokens/s per stream, no logging), a
``/healthz`` probe (its own process, one request every 10 ms on a kept-alive connection), and this
load client (aiohttp, SSE read as raw lines). N workers each ask ``--answers`` questions one after
the other, started over one answer's duration, so about N answers stream at once. Each round runs,
in alternating order:
- ``direct``: the same workers straight to the fake, for the TTFT the app is compared with;
- ``api``: the workers through ``POST /api/v1/conversations/{id}/messages`` (SSE, a new conversation each);
- ``pages`` (with ``--pages M``): M Chromium pages each asking one question (bench/run.py's helpers).
It prints server CPU per streamed token (psutil on the app process, minus its idle rate and what the probe's
requests cost it, both measured before the rounds),
event-loop lag (the probe's round-trip time, and the app's own 10 ms heartbeat from /api/stats), TTFT
added by the app over the direct call, and tokens lost or doubled (received text vs what was sent).
Medians over rounds. A benchmark, not a test: nothing asserts. Method and numbers: bench/LOAD.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.run as br  # noqa: E402
from bench.answers import make_answer  # noqa: E402
from bench.run import APPS, LoadMeter, Server, pct, wait_quiet  # noqa: E402
from tests.fake_upstream import FakeUpstream, Reply, tokenize  # noqa: E402

PROBE_EVERY_S = 0.010
SEED = 8


# ------------------------------------------------------------------ helper processes (same file)
def serve_fake(rate: float, tokens: int) -> None:
    """Child process: the fake upstream answering every request with the same paced answer."""
    fake = FakeUpstream().start()
    fake.default = Reply(text=make_answer(tokens, SEED)).tokens_per_second(rate)
    print(fake.url, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    fake.stop()


def probe(host: str, port: int) -> None:
    """Child process: GET /healthz every 10 ms until stdin closes; prints each round trip (ms)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    out: list[float] = []
    stop = False

    def wait_stdin() -> None:
        nonlocal stop
        sys.stdin.read()
        stop = True

    threading.Thread(target=wait_stdin, daemon=True).start()
    next_at = time.monotonic()
    while not stop:
        t0 = time.monotonic()
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        out.append((time.monotonic() - t0) * 1000)
        next_at = max(next_at + PROBE_EVERY_S, time.monotonic())
        time.sleep(max(0.0, next_at - time.monotonic()))
    print(json.dumps([round(v, 2) for v in out]), flush=True)


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


# --------------------------------------------------------------------------------- one stream
@dataclass
class StreamRun:
    ttft_ms: float = float("nan")
    text: str = ""
    doubled: int = 0  # characters received at an offset already covered
    status: str = ""
    error: str = ""


async def api_stream(session: aiohttp.ClientSession, base: str, key: str, prompt: str) -> StreamRun:
    """One answer over SSE; TTFT from the POST to the first delta; checks `id:` offsets as they come."""
    auth = {"Authorization": f"Bearer {key}"}
    out = StreamRun()
    async with session.post(f"{base}/api/v1/conversations", json={}, headers=auth) as r:
        cid = (await r.json())["id"]
    t0 = time.monotonic()
    headers = {**auth, "Accept": "text/event-stream"}
    async with session.post(
        f"{base}/api/v1/conversations/{cid}/messages", json={"content": prompt}, headers=headers
    ) as r:
        if r.status != 200:
            out.error = f"HTTP {r.status}: {(await r.text())[:200]}"
            return out
        event, offset = "", None
        async for raw in r.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("id: "):
                offset = int(line[4:])
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "delta":
                piece = json.loads(line[6:])["text"]
                if out.text == "":
                    out.ttft_ms = (time.monotonic() - t0) * 1000
                if offset is not None and offset - len(piece) < len(out.text):  # overlaps what we have
                    out.doubled += len(out.text) - (offset - len(piece))
                out.text += piece
            elif line.startswith("data: ") and event == "done":
                out.status = json.loads(line[6:])["status"]
    return out


async def direct_stream(session: aiohttp.ClientSession, fake_url: str) -> StreamRun:
    """The same answer straight from the fake: TTFT to the first non-empty content chunk."""
    out = StreamRun()
    body = {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "direct"}]}
    t0 = time.monotonic()
    async with session.post(f"{fake_url}/v1/chat/completions", json=body) as r:
        async for raw in r.content:
            if not raw.startswith(b"data: {"):
                continue
            for choice in json.loads(raw[6:]).get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece and not out.text:
                    out.ttft_ms = (time.monotonic() - t0) * 1000
                out.text += piece
    out.status = "done"
    return out


# ---------------------------------------------------------------------------------- one phase
@dataclass
class Phase:
    name: str
    round: int
    tokens: int = 0  # tokens the fake sent in this phase
    cpu_s: float = 0.0  # app CPU, idle rate and probe requests subtracted
    wall_s: float = 0.0
    ttft_ms: list[float] = field(default_factory=list)
    lost: int = 0  # tokens of the sent answer missing from what arrived
    doubled: int = 0  # characters that arrived twice
    failed: int = 0
    lag_ms: list[float] = field(default_factory=list)  # /healthz round trips
    beat_over_50: float = float("nan")  # share of the app's 10 ms heartbeats later than 50 ms
    foreign: float = 0.0  # cores other processes used meanwhile

    def summary(self) -> dict[str, float]:
        return {
            "cpu_ms_per_token": self.cpu_s / self.tokens * 1000 if self.tokens else float("nan"),
            "ttft_p50": pct(self.ttft_ms, 50),
            "ttft_p95": pct(self.ttft_ms, 95),
            "lag_p50": pct(self.lag_ms, 50),
            "lag_p99": pct(self.lag_ms, 99),
            "lag_max": max(self.lag_ms, default=float("nan")),
            "beat_over_50": self.beat_over_50,
            "lost": self.lost,
            "doubled": self.doubled,
            "failed": self.failed,
            "tok_s": self.tokens / self.wall_s if self.wall_s else 0.0,
            "foreign": self.foreign,
        }


def lost_tokens(sent: list[str], received: str) -> int:
    """Tokens of `sent` not found, in order, in `received` (0 when the text arrived whole)."""
    if received == "".join(sent):
        return 0
    pos, lost = 0, 0
    for tok in sent:
        at = received.find(tok, pos)
        if at < 0:
            lost += 1
        else:
            pos = at + len(tok)
    return lost


def heartbeat(server: Server) -> dict[str, Any]:
    with urllib_open(f"{server.url}/api/stats") as r:
        return json.loads(r.read())["loop"]


def urllib_open(url: str) -> Any:
    from bench.run import _DIRECT

    return _DIRECT.open(url, timeout=10)


def run_streams(
    server: Server,
    key: str,
    fake_url: str,
    name: str,
    n: int,
    rnd: int,
    sent: list[str],
    idle: Idle,
    rate: float,
    answers: int,
) -> Phase:
    """N concurrent streams (`direct` to the fake, or `api` through the app) while the probe runs."""
    phase = Phase(name, rnd)
    prober = child("--probe", "127.0.0.1", str(server.port))
    beats0 = heartbeat(server)
    cpu0, t0, meter = server.cpu(), time.monotonic(), LoadMeter()
    coro = gather_streams(server.url, key, fake_url, name, n, rnd, answers, len(sent) / rate)
    with ThreadPoolExecutor(1) as pool:  # its own thread: Playwright's sync API runs a loop in this one
        runs = pool.submit(asyncio.run, coro).result()
    phase.wall_s = time.monotonic() - t0
    cpu = server.cpu() - cpu0
    phase.foreign = meter.foreign_cores()
    beats1 = heartbeat(server)
    prober.stdin.close()  # type: ignore[union-attr]
    phase.lag_ms = json.loads(prober.stdout.read() or "[]")  # type: ignore[union-attr]
    prober.wait(10)
    phase.cpu_s = cpu - idle.cpu(phase.wall_s, len(phase.lag_ms))
    ticks = beats1["ticks"] - beats0["ticks"]
    if ticks:
        phase.beat_over_50 = (beats1["over_ms"]["50"] - beats0["over_ms"]["50"]) / ticks
    for r in runs:
        phase.ttft_ms.append(r.ttft_ms)
        phase.lost += lost_tokens(sent, r.text)
        phase.doubled += r.doubled
        phase.failed += bool(r.error) or r.status not in ("done", "")
        phase.tokens += len(sent)
        if r.error:
            print("  failed:", r.error, flush=True)
    return phase


async def gather_streams(
    base: str, key: str, fake_url: str, name: str, n: int, rnd: int, answers: int, answer_s: float
) -> list[StreamRun]:
    """N workers asking `answers` questions each, one after the other; worker i starts i/N of an answer's
    duration late, so about N answers stream at any time and about N/answer_s start per second (a burst
    of N at once measures the queue for the first token, not what the app costs while streaming)."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:

        async def worker(i: int) -> list[StreamRun]:
            await asyncio.sleep(i * answer_s / n)
            out = []
            for j in range(answers):
                if name == "direct":
                    out.append(await direct_stream(session, fake_url))
                else:
                    out.append(await api_stream(session, base, key, f"load round {rnd} worker {i} answer {j}"))
            return out

        return [r for runs in await asyncio.gather(*(worker(i) for i in range(n))) for r in runs]


def run_pages(server: Server, browser: Any, m: int, rnd: int, sent: list[str], idle: Idle) -> Phase:
    """M Chromium pages, one question each, all at once: CPU per token with a page per answer."""
    from bench.run import open_page

    phase = Phase("pages", rnd)
    opened = [open_page(browser, server) for _ in range(m)]
    for i, (_, page, _) in enumerate(opened):
        page.get_by_role("textbox", name="Message").fill(f"load round {rnd} page {i}")
    time.sleep(0.3)
    cpu0, t0, meter = server.cpu(), time.monotonic(), LoadMeter()
    for _, page, _ in opened:
        page.get_by_role("textbox", name="Message").press("Enter")
    for _, page, _ in opened:
        page.locator("[data-role=assistant][data-status=done]").wait_for(timeout=len(sent) * 1000)
    phase.wall_s = time.monotonic() - t0
    phase.cpu_s = server.cpu() - cpu0 - idle.cpu(phase.wall_s, 0)
    phase.foreign = meter.foreign_cores()
    phase.tokens = len(sent) * m
    for context, _, _ in opened:
        context.close()
    return phase


# --------------------------------------------------------------------------------------- main
@dataclass
class Idle:
    """What the app costs with no answer streaming, subtracted from every phase: CPU seconds per second,
    and per /healthz request (a slow loop answers fewer probes, so a rate would be wrong under load)."""

    per_s: float
    per_probe: float

    def cpu(self, wall_s: float, probes: int) -> float:
        return self.per_s * wall_s + self.per_probe * probes


def measure_idle(server: Server, seconds: float = 3.0) -> Idle:
    c0 = server.cpu()
    time.sleep(seconds)
    per_s = (server.cpu() - c0) / seconds
    prober = child("--probe", "127.0.0.1", str(server.port))
    time.sleep(0.5)
    c0 = server.cpu()
    time.sleep(seconds)
    probing = server.cpu() - c0
    out, _ = prober.communicate(timeout=10)  # closes its stdin: it stops
    rate = len(json.loads(out)) / (seconds + 0.5)
    return Idle(per_s, max(0.0, probing / seconds - per_s) / rate)


def create_key(server: Server) -> str:
    out = subprocess.run(
        [sys.executable, "app.py", "api-key", "create", "--user", "load"],
        cwd=br.ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


class _FakeAddress:
    """What bench.run.Server needs of a FakeUpstream: its URL (ours runs in another process)."""

    def __init__(self, url: str) -> None:
        self.url = url


def report(phases: list[Phase], args: argparse.Namespace) -> str:
    by: dict[str, list[dict[str, float]]] = {}
    for p in phases:
        by.setdefault(p.name, []).append(p.summary())

    def med(name: str, key: str) -> float:
        vals = [s[key] for s in by.get(name, []) if s[key] == s[key]]
        return statistics.median(vals) if vals else float("nan")

    direct50, direct95 = med("direct", "ttft_p50"), med("direct", "ttft_p95")
    lines = [
        f"{args.streams} streams × {args.answers} answers × {args.tokens} tokens at {args.rate:g} tok/s, "
        f"{args.pages} pages; "
        f"medians of {args.rounds} rounds",
        "",
        "| phase | CPU ms/token | TTFT p50 / p95 ms | added TTFT p50 / p95 ms | healthz p50 / p99 / max ms "
        "| heartbeats > 50 ms | lost / doubled / failed | tok/s | other load (cores) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("direct", "api", "pages"):
        if name not in by:
            continue
        added = (
            f"{med(name, 'ttft_p50') - direct50:.1f} / {med(name, 'ttft_p95') - direct95:.1f}" if name == "api" else "–"
        )
        lines.append(
            f"| {name} | {med(name, 'cpu_ms_per_token'):.3f} | {med(name, 'ttft_p50'):.1f} / "
            f"{med(name, 'ttft_p95'):.1f} | {added} | {med(name, 'lag_p50'):.1f} / {med(name, 'lag_p99'):.1f} / "
            f"{med(name, 'lag_max'):.0f} | {med(name, 'beat_over_50'):.2%} | {med(name, 'lost'):.0f} / "
            f"{med(name, 'doubled'):.0f} / {med(name, 'failed'):.0f} | {med(name, 'tok_s'):.0f} | "
            f"{med(name, 'foreign'):.2f} |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    sent = tokenize(make_answer(args.tokens, SEED))
    fake = child("--serve-fake", str(args.rate), str(args.tokens))
    fake_url = fake.stdout.readline().strip()  # type: ignore[union-attr]
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="streamchat-load-") as tmp:
        server = Server(APPS["ours"], _FakeAddress(fake_url), Path(tmp))  # type: ignore[arg-type]
        pw = browser = None
        try:
            key = create_key(server)
            server.start()
            run_streams(
                server, key, fake_url, "api", min(args.streams, 10), -1, sent, Idle(0, 0), args.rate, 1
            )  # warm-up
            idle = measure_idle(server)
            pinned = ""
            if br.APP_CPUS:
                pinned = f" on CPU {sorted(br.APP_CPUS)}, the rest on {sorted(os.sched_getaffinity(0))}"
            print(
                f"idle CPU {idle.per_s:.3f} s/s, {idle.per_probe * 1000:.2f} ms per probe; app pid {server.proc.pid}"
                + pinned,
                flush=True,
            )  # type: ignore[union-attr]
            if args.pages:
                from playwright.sync_api import sync_playwright

                from bench.run import CHROMIUM, CHROMIUM_ARGS

                pw = sync_playwright().start()
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for rnd in range(args.rounds):
                order = ["direct", "api", "pages"] if args.pages else ["direct", "api"]
                if rnd % 2:
                    order.reverse()
                for name in order:
                    wait_quiet()
                    if name == "pages":
                        phase = run_pages(server, browser, args.pages, rnd, sent, idle)
                    else:
                        phase = run_streams(
                            server, key, fake_url, name, args.streams, rnd, sent, idle, args.rate, args.answers
                        )
                    phases.append(phase)
                    print(
                        f"round {rnd} {name}: " + json.dumps({k: round(v, 3) for k, v in phase.summary().items()}),
                        flush=True,
                    )
        finally:
            if browser is not None:
                browser.close()
            if pw is not None:
                pw.stop()
            server.stop()
            fake.stdin.close()  # type: ignore[union-attr]
            with contextlib.suppress(subprocess.TimeoutExpired):
                fake.wait(10)
            if fake.poll() is None:
                fake.kill()
    print("\n" + report(phases, args))


def main() -> None:
    if sys.argv[1:2] == ["--serve-fake"]:
        serve_fake(float(sys.argv[2]), int(sys.argv[3]))
        return
    if sys.argv[1:2] == ["--probe"]:
        probe(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description="streamchat capacity benchmark")
    parser.add_argument("--streams", type=int, default=100, help="concurrent API streams")
    parser.add_argument("--rate", type=float, default=30.0, help="tokens per second per stream")
    parser.add_argument("--tokens", type=int, default=300, help="tokens per answer")
    parser.add_argument("--answers", type=int, default=2, help="answers each stream asks for, one after the other")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", type=int, default=0, help="Chromium pages, one answer each (0: none)")
    parser.add_argument("--app", type=Path, default=ROOT,
                        help="checkout whose app.py to measure (`git archive REV`); bench and venv are this one's")
    parser.add_argument("--pin", action="store_true",
                        help="the app on CPU 0, the fake upstream, load client and Chromium on the others")
    args = parser.parse_args()
    if args.pin:
        br.pin_app()
    br.ROOT = args.app.resolve()  # where bench.run.Server starts app.py
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    run(args)


if __name__ == "__main__":
    main()
