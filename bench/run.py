"""Streaming benchmark: streamchat vs the naive NiceGUI pattern, in real headless Chromium.

    uv run python bench/run.py [--rounds 3] [--quick] [--results bench/RESULTS.md]

Starts the fake upstream in this process and three servers as subprocesses (streamchat as
``app.py`` runs it; the same with the client-side reveal off; ``bench/naive_app.py``), each with its
own data dir. Every round runs each configuration (1 or 4 concurrent pages × 600 or 3,000 tokens at
150 tokens/s) for each app in turn, the order alternating between rounds, because these machines
are noisy; the tables report medians over rounds. It is a benchmark, not a test: nothing here
asserts, it prints numbers (and targets met or not). Method: see bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import datetime
import importlib.metadata
import itertools
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.answers import make_answer, probe_positions  # noqa: E402
from tests.fake_upstream import FakeUpstream, Reply, tokenize  # noqa: E402

RATE = 150.0  # tokens per second from the fake upstream
FLUSH_S = 0.05  # streamchat's default FLUSH_INTERVAL_MS, for the offline markdown replay
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PROBE_JS = (Path(__file__).with_name("probe.js")).read_text()
SENTENCE = 80  # characters: a jump at least this big shows a whole sentence at once
CUTOFF_S = 30.0  # an answer not on screen this long after the upstream's last token is cut off
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never via a proxy
APP_CPUS: set[int] | None = None  # set by pin_app(); None: app servers float over every core


@dataclass(frozen=True)
class AppSpec:
    """One server under test: how to start it and where its rendered answer is in the DOM."""

    name: str
    argv: tuple[str, ...]
    body: str  # CSS selector of the rendered markdown of an assistant message


APPS = {
    "ours": AppSpec("ours", ("app.py", "--no-browser"), "[data-role=assistant] .md-view"),
    "ours-no-reveal": AppSpec("ours-no-reveal", ("bench/no_reveal_app.py", "--no-browser"),
                              "[data-role=assistant] .md-view"),
    "naive": AppSpec("naive", ("bench/naive_app.py",), "[data-role=assistant] .nicegui-markdown"),
}


# ------------------------------------------------------------------------------------- servers
def pin_app() -> None:
    """App servers on the first CPU, everything else this bench starts (Chromium, the fake upstream, the
    load client) on the others, as on a server whose browsers and callers run elsewhere. Sharing its two
    cores with four Chromium pages cost the app a quarter more CPU per token (bench/LOAD.md, session 11)."""
    global APP_CPUS
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least two CPUs")
    APP_CPUS = {min(cpus)}
    os.sched_setaffinity(0, cpus - APP_CPUS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """An app subprocess on a free port with its own data dir; its log goes to a file."""

    def __init__(self, spec: AppSpec, fake: FakeUpstream, workdir: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.data_dir = workdir / spec.name
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{spec.name}.log"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AZURE_", "OPENAI_", "STREAMCHAT_"))
               and k not in {"PYTEST_CURRENT_TEST", "DATABASE_URL", "LOCAL_MODEL_PATH", "FLUSH_INTERVAL_MS"}}
        env.update({"STREAMCHAT_DATA_DIR": str(self.data_dir), "OPENAI_BASE_URL": f"{fake.url}/v1",
                    "OPENAI_API_KEY": "bench-key", "OPENAI_MODEL": "fake-model", "PYTHONUNBUFFERED": "1",
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                    # one bench user drives every stream: per-user limits (a product rule) would cap the load
                    "RATE_LIMIT_PER_MIN": "0", "MAX_CONCURRENT_PER_USER": "0"})
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        cmd = [sys.executable, *self.spec.argv[:1], "--host", "127.0.0.1", "--port", str(self.port),
               *self.spec.argv[1:]]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        if APP_CPUS is not None:  # before the app starts its threads: they inherit it
            os.sched_setaffinity(self.proc.pid, APP_CPUS)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.spec.name} exited: see {self.log_path}")
            with contextlib.suppress(urllib.error.URLError, OSError), _DIRECT.open(self.url + "/", timeout=2) as r:
                if r.status == 200:
                    return self
            time.sleep(0.1)
        raise TimeoutError(f"{self.spec.name} not ready after {timeout} s: see {self.log_path}")

    def cpu(self) -> float:
        """User + system CPU seconds of the server process so far (all its threads)."""
        assert self.proc is not None
        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


class PacedReply(Reply):
    """A reply whose tokens leave on a fixed clock (``rate`` per second) instead of "sleep, then send".

    The fake sleeps ``interval`` between chunks; that sleep plus the send and a busy machine add
    up to ~1.5 ms per token, i.e. ~130 instead of 150 tokens/s. Here ``interval`` is a property the
    fake reads before each chunk: the time left until the next tick of a grid anchored at the
    first read, so the long-run rate is exact (a late chunk skips a tick, it never bursts).
    """

    def __init__(self, text: str, rate: float) -> None:
        super().__init__(text=text)
        self._period = 1.0 / rate
        self._t0: float | None = None

    @property  # type: ignore[override]
    def interval(self) -> float:
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now - self._period
        return self._period - (now - self._t0) % self._period or self._period

    @interval.setter
    def interval(self, value: float) -> None:
        """Reply's generated __init__ assigns the field; the pace is fixed by ``rate``."""


# --------------------------------------------------------------------------- the machine's load
class LoadMeter:
    """CPU used by *other* processes (other people's test runs share these 2 cores) during a window:
    the whole machine's busy time minus this process and all its descendants (servers, Chromium)."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self._t = time.monotonic()
        self._sys = self._busy()
        self._own = self._own_times()

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return sum(v for k, v in t._asdict().items() if k not in ("idle", "iowait", "guest", "guest_nice"))

    def _own_times(self) -> dict[int, float]:
        out = {}
        for p in [self.me, *self.me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
        return out

    def foreign_cores(self) -> float:
        """Average number of cores other processes kept busy since construction."""
        own_now = self._own_times()
        own = sum(v - self._own.get(pid, 0.0) for pid, v in own_now.items())
        dt = max(1e-3, time.monotonic() - self._t)
        return max(0.0, (self._busy() - self._sys - own) / dt)


def wait_quiet(limit: float = 0.3, max_wait: float = 45.0) -> float:
    """Wait (bounded) until other processes use < limit cores over 1 s; returns the last reading."""
    deadline = time.monotonic() + max_wait
    while True:
        meter = LoadMeter()
        time.sleep(1.0)
        load = meter.foreign_cores()
        if load < limit or time.monotonic() > deadline:
            return load


# ------------------------------------------------------------------------------------ one run
@dataclass
class PageRun:
    """What one page measured for its answer."""

    latencies_ms: list[float]
    ws_bytes: int
    ws_frames: int
    html_len: int
    jumps: list[int]  # characters added per painted frame (frames where the text grew)
    steps_per_s: float
    fps: float
    sentence_share: float  # fraction of the text that appeared in jumps >= SENTENCE characters
    mapped: int  # tokens whose time could be mapped
    tokens: int
    upstream_s: float  # first to last token sent by the fake
    complete: bool = True  # False: cut off CUTOFF_S after the upstream finished; numbers are lower bounds


@dataclass
class ConfigRun:
    """One app × pages × tokens in one round."""

    app: str
    pages: int
    tokens: int
    round: int
    wall_s: float
    cpu_s: float  # server CPU for all pages' answers, idle rate subtracted
    foreign: float = 0.0  # cores other processes used meanwhile (noise)
    pages_runs: list[PageRun] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]


def clock_offset_ms(page: Page) -> float:
    """Browser epoch clock minus this process's time.time(), from the tightest of 5 round trips."""
    best = (float("inf"), 0.0)
    for _ in range(5):
        t0 = time.time()
        v = page.evaluate("() => performance.timeOrigin + performance.now()")
        t1 = time.time()
        best = min(best, (t1 - t0, v - (t0 + t1) / 2 * 1000))
    return best[1]


def analyse_page(tokens: list[str], chunk_times: list[float], data: dict[str, Any], offset_ms: float,
                 stopped_at: float | None = None) -> PageRun:
    """Map each token to the time its word first became visible; smoothness from painted frames.

    ``stopped_at`` (epoch s): the answer was cut off then; tokens with a word not yet on screen get
    ``stopped_at - sent`` as a lower bound of their latency.
    """
    samples = [(t - offset_ms, n) for t, n in data["samples"]]
    lens = [n for _, n in samples]  # strictly increasing (running maximum)
    positions = probe_positions(tokens, data["text"])
    lat: list[float] = []
    last = max((i for i, p in enumerate(positions) if p is not None), default=-1)
    for i, p in enumerate(positions):
        if i >= len(chunk_times):
            continue
        if p is None:
            if stopped_at is not None and i > last and re.search(r"[A-Za-z]{2,}", tokens[i]):
                lat.append((stopped_at - chunk_times[i]) * 1000)
            continue
        k = bisect.bisect_left(lens, p)
        if k < len(samples):
            lat.append(samples[k][0] - chunk_times[i] * 1000)
    frames = data["frames"]
    jumps = [b[1] - a[1] for a, b in itertools.pairwise(frames) if b[1] > a[1]]
    grow = [b[0] for a, b in itertools.pairwise(frames) if b[1] > a[1]]
    span_s = (grow[-1] - frames[0][0]) / 1000 if len(grow) > 1 else float("nan")
    ticks = [t for t in data["ticks"] if grow and frames[0][0] <= t <= grow[-1]]
    total = sum(jumps) or 1
    return PageRun(
        latencies_ms=lat, ws_bytes=data["wsBytes"], ws_frames=data["wsFrames"], html_len=data["html"],
        jumps=jumps, steps_per_s=len(jumps) / span_s if span_s else float("nan"),
        fps=(len(ticks) - 1) / span_s if span_s and len(ticks) > 1 else float("nan"),
        sentence_share=sum(j for j in jumps if j >= SENTENCE) / total,
        mapped=len(lat), tokens=len(tokens),
        upstream_s=(chunk_times[-1] - chunk_times[0]) if len(chunk_times) > 1 else 0.0,
        complete=stopped_at is None)


def open_page(browser: Browser, server: Server) -> tuple[BrowserContext, Page, float]:
    """A fresh context (new cookie: a new user, an empty chat) with the probe installed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    context.add_init_script(PROBE_JS.replace("__SELECTOR__", json.dumps(server.spec.body)))
    page = context.new_page()
    page.goto(server.url + "/")
    page.get_by_role("textbox", name="Message").wait_for()
    return context, page, clock_offset_ms(page)


def run_config(browser: Browser, server: Server, fake: FakeUpstream, idle_rate: float, n_pages: int,
               n_tokens: int, rnd: int, seed: int) -> ConfigRun:
    """Send one question from each of n_pages pages at once and measure every answer."""
    opened = [open_page(browser, server) for _ in range(n_pages)]
    texts = [make_answer(n_tokens, seed * 100 + i) for i in range(n_pages)]
    prompts = [f"bench {server.spec.name} round {rnd} page {i} of {n_pages} ({n_tokens} tokens)"
               for i in range(n_pages)]
    first_req = len(fake.requests)
    fake.enqueue(*[PacedReply(t, RATE) for t in texts])
    for (_, page, _), prompt in zip(opened, prompts, strict=True):
        page.get_by_role("textbox", name="Message").fill(prompt)
        page.evaluate("() => __bench.resetWs()")
    time.sleep(0.3)  # let the page settle after typing; then measure from here
    cpu0, t0, meter = server.cpu(), time.monotonic(), LoadMeter()
    for _, page, _ in opened:
        page.get_by_role("textbox", name="Message").press("Enter")
    # bounded: the naive pattern falls minutes behind on 3,000 tokens; we cut off and report lower bounds
    deadline = t0 + n_tokens / RATE + CUTOFF_S
    done_js = ("() => !!document.querySelector('[data-role=assistant][data-status=done]')"
               " && !document.querySelector('.md-rv')")
    complete = []
    for _, page, _ in opened:
        try:
            page.wait_for_function(done_js, polling=100, timeout=max(1000, (deadline - time.monotonic()) * 1000))
            complete.append(True)
        except PlaywrightTimeout:
            complete.append(False)
    stopped_at = time.time()
    wall = time.monotonic() - t0
    cpu = server.cpu() - cpu0 - idle_rate * wall
    foreign = meter.foreign_cores()
    datas = [page.evaluate("() => ({samples: __bench.samples, frames: __bench.frames, ticks: __bench.ticks,"
                           " text: __bench.visText(), html: __bench.htmlLen(), wsBytes: __bench.wsBytes,"
                           " wsFrames: __bench.wsFrames})") for _, page, _ in opened]
    for context, _, _ in opened:
        context.close()
    if not all(complete):  # its backlog would weigh on the next measurement: start it afresh
        print(f"  {server.spec.name}: {complete.count(False)} answer(s) cut off {CUTOFF_S:.0f} s after the "
              "upstream finished; restarting the server", flush=True)
        server.stop()
        server.start()
    fake.wait_until(lambda: all(r.finished_at is not None for r in fake.requests[first_req:]), timeout=30)
    by_prompt = {}
    for rec in fake.requests[first_req:]:
        users = [m.get("content") for m in rec.messages if m.get("role") == "user"]
        if users:
            by_prompt[users[-1]] = rec
    run = ConfigRun(server.spec.name, n_pages, n_tokens, rnd, wall, cpu, foreign)
    for prompt, (_, _, offset), data, ok in zip(prompts, opened, datas, complete, strict=True):
        rec = by_prompt[prompt]
        assert rec.reply is not None and rec.reply.text is not None
        run.pages_runs.append(analyse_page(tokenize(rec.reply.text), rec.chunk_times, data, offset,
                                           None if ok else stopped_at))
    return run


# ------------------------------------------------------------------------ offline render costs
def _median_time(fn: Callable[[], object], repeat: int = 5) -> float:
    fn()  # warm-up (imports, lexers, caches)
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def flush_groups(tokens: list[str]) -> list[str]:
    """The deltas streamchat's publisher would emit at RATE: first token at once, then <= 1 / FLUSH_S."""
    groups: list[str] = [tokens[0]]
    pending: list[str] = []
    last = 0.0
    for i, tok in enumerate(tokens[1:], 1):
        pending.append(tok)
        if i / RATE - last >= FLUSH_S:
            groups.append("".join(pending))
            pending, last = [], i / RATE
    if pending:
        groups.append("".join(pending))
    return groups


def render_costs(sizes: Iterable[int]) -> dict[int, dict[str, float]]:
    """CPU seconds of one full render (ours, markdown2) and of the render work of one streamed answer
    (ours: MarkdownStream fed the publisher's flushes; naive: markdown2 on every prefix), plus the
    bytes of our patches as JSON (before NiceGUI wraps them), all measured in this process."""
    import markdown2
    from nicegui.helpers import remove_indentation

    from services.markdown import MarkdownStream, render_markdown

    extras = ["fenced-code-blocks", "tables"]  # ui.markdown's defaults
    out: dict[int, dict[str, float]] = {}
    for n in sizes:
        text = make_answer(n, 7)
        toks = tokenize(text)
        groups = flush_groups(toks)

        def stream_ours(groups: list[str] = groups) -> int:
            s = MarkdownStream()
            size = sum(len(s.feed(g).to_json()) for g in groups)
            return size + len(s.finish().to_json())

        step = 1 if n <= 1000 else 10  # every prefix is ~40 s for 3,000 tokens: sample every 10th

        def naive(toks: list[str] = toks, step: int = step) -> None:
            for i in range(0, len(toks), step):
                markdown2.markdown(remove_indentation("".join(toks[: i + 1])), extras=extras)

        out[n] = {
            "ours_full": _median_time(lambda text=text: render_markdown(text)),
            "naive_full": _median_time(lambda text=text: markdown2.markdown(remove_indentation(text), extras=extras)),
            "ours_stream": _median_time(stream_ours, 3),
            "naive_stream": _median_time(naive, 1) * step,
            "flushes": len(groups),
            "patch_bytes": stream_ours(),
            "html_bytes": len(render_markdown(text)),
        }
    return out


def sdk_floor(fake: FakeUpstream, sizes: Iterable[int]) -> dict[int, float]:
    """CPU seconds the openai SDK alone spends reading one streamed answer (no UI at all):
    the floor under any app's server CPU per answer. Measured on this thread (the fake has its own)."""
    import asyncio

    from openai import AsyncOpenAI

    async def read(n: int) -> float:
        client = AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="bench", max_retries=0)
        times = []
        for _ in range(4):
            fake.enqueue(Reply(text=make_answer(n, 7)))
            t0 = time.thread_time()
            stream = await client.chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": "floor"}], stream=True,
                stream_options={"include_usage": True})
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta is not None:
                    _ = chunk.choices[0].delta.content
            times.append(time.thread_time() - t0)
        await client.close()
        return statistics.median(times[1:])

    return {n: asyncio.run(read(n)) for n in sizes}


# ---------------------------------------------------------------------------------- reporting
def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} × {cpu}",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "chromium": chromium,
        "nicegui": importlib.metadata.version("nicegui"),
        "playwright": importlib.metadata.version("playwright"),
    }


def summarise(run: ConfigRun) -> dict[str, float]:
    """Per configuration run: pooled latency percentiles, per-answer means."""
    lat = [x for p in run.pages_runs for x in p.latencies_ms]
    jumps = [j for p in run.pages_runs for j in p.jumps]
    n = len(run.pages_runs)
    html = statistics.mean(p.html_len for p in run.pages_runs)
    ws = statistics.mean(p.ws_bytes for p in run.pages_runs)
    return {
        "ws_kb": ws / 1000, "ws_frames": statistics.mean(p.ws_frames for p in run.pages_runs),
        "html_kb": html / 1000, "ws_ratio": ws / html if html else float("nan"),
        "p50": pct(lat, 50), "p95": pct(lat, 95), "max": max(lat, default=float("nan")),
        "cpu": run.cpu_s / n, "wall": run.wall_s,
        "jump50": pct(jumps, 50), "jump95": pct(jumps, 95), "jumpmax": max(jumps, default=float("nan")),
        "steps": statistics.mean(p.steps_per_s for p in run.pages_runs),
        "fps": statistics.mean(p.fps for p in run.pages_runs),
        "sentence": statistics.mean(p.sentence_share for p in run.pages_runs),
        "mapped": sum(p.mapped for p in run.pages_runs) / max(1, sum(p.tokens for p in run.pages_runs)),
        "rate": statistics.mean((p.tokens - 1) / p.upstream_s for p in run.pages_runs if p.upstream_s),
        "foreign": run.foreign,
        "cut": sum(not p.complete for p in run.pages_runs),
        "rounds": 1,
    }


def medians(rows: Iterable[tuple[tuple[str, int, int], dict[str, float]]]) -> dict[tuple[str, int, int],
                                                                                 dict[str, float]]:
    """Median of every summary field over the rounds of each (app, pages, tokens)."""
    groups: dict[tuple[str, int, int], list[dict[str, float]]] = {}
    for key, summary in rows:
        groups.setdefault(key, []).append(summary)
    out = {}
    for key, rows in groups.items():
        out[key] = {k: statistics.median(row[k] for row in rows) for k in rows[0] if k not in ("rounds", "cut")}
        out[key]["cut"] = max(row.get("cut", 0) for row in rows)
        out[key]["rounds"] = len(rows)
    return out


def fmt(v: float, unit: str = "") -> str:
    if v != v:  # nan
        return "–"
    if unit == "ms":
        return f"{v:,.0f} ms" if v < 10_000 else f"{v / 1000:,.1f} s"
    if unit == "s":
        return f"{v:.2f} s" if v < 10 else f"{v:.0f} s"
    if unit == "kb":
        return f"{v:,.1f} KB" if v < 1000 else f"{v / 1000:,.1f} MB"
    if unit == "x":
        return f"{v:,.1f}×" if v < 100 else f"{v:,.0f}×"
    if unit == "%":
        return f"{v * 100:.0f} %"
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:.1f}"


def ratio(naive: float, ours: float) -> str:
    if ours != ours or naive != naive or ours <= 0:
        return "–"
    return fmt(naive / ours, "x")


class _Rows:
    """Builds one table row: ours, naive, naive / ours; "≥" marks lower bounds from cut-off answers."""

    def __init__(self, ours: dict[str, float], naive: dict[str, float]) -> None:
        self.o, self.v = ours, naive
        self.lo, self.lv = ("≥ " if ours["cut"] else ""), ("≥ " if naive["cut"] else "")

    def __call__(self, metric: str, key: str, unit: str = "", target: str = "",
                 bound: bool = True) -> tuple[str, str, str, str, str]:
        """``bound=False``: a cut-off answer gives no bound for this metric (e.g. its HTML so far)."""
        a, b = self.o[key], self.v[key]
        if not bound and self.v["cut"]:
            return metric, fmt(a, unit), f"({fmt(b, unit)} when cut off)", "–", target
        lo, lv = (self.lo, self.lv) if bound else ("", "")
        ratio_cell = "" if key == "html_kb" else lv + ratio(b, a)
        return metric, lo + fmt(a, unit), lv + fmt(b, unit), ratio_cell, target


def report(med: dict[tuple[str, int, int], dict[str, float]], costs: dict[int, dict[str, float]],
           info: dict[str, str], rounds: int, elapsed: float) -> str:
    """Markdown: machine, main table (ours vs naive with ratios and targets), smoothness, render costs."""
    lines = [f"Run: {info['date']}, {rounds} round(s), {elapsed / 60:.1f} min. "
             f"Machine: {info['cpu']}, {info['memory']}, {info['os']}; Python {info['python']}, "
             f"{info['chromium']}, NiceGUI {info['nicegui']}, Playwright {info['playwright']}.", ""]
    configs = sorted({(p, n) for (_, p, n) in med})
    lines += ["| pages × tokens | metric | ours | naive | naive / ours | target (ours) |",
              "| --- | --- | ---: | ---: | ---: | --- |"]
    for pages, n in configs:
        o, v = med.get(("ours", pages, n)), med.get(("naive", pages, n))
        if o is None:
            continue
        v = v or {**dict.fromkeys(o, float("nan")), "cut": 0}
        c = costs.get(n, {})
        lat_target = 100 if pages == 1 else 150
        lo, lv = ("≥ " if o["cut"] else ""), ("≥ " if v["cut"] else "")  # cut-off answers: lower bounds

        row = _Rows(o, v)
        rows = [
            row("websocket bytes / answer", "ws_kb", "kb"),
            row("websocket frames / answer", "ws_frames"),
            row("final HTML", "html_kb", "kb", bound=False),
            row("bytes / final HTML", "ws_ratio", "x", f"≤ 3× {'met' if o['ws_ratio'] <= 3 else 'MISSED'}",
                bound=False),
            row("token→screen p50", "p50", "ms"),
            row("token→screen p95", "p95", "ms",
                f"≤ {lat_target} ms {'met' if o['p95'] <= lat_target and not o['cut'] else 'MISSED'}"),
            row("token→screen max", "max", "ms"),
            row("server CPU / answer", "cpu", "s"),
        ]
        if c:
            o_x, v_x = o["cpu"] / c["ours_full"], v["cpu"] / c["naive_full"]
            rows.append(("… ÷ one full render", lo + fmt(o_x, "x"), lv + fmt(v_x, "x"), lv + ratio(v_x, o_x),
                         f"≤ 5× {'met' if o_x <= 5 else 'MISSED'}"))
            o_r, v_r = c["ours_stream"] / c["ours_full"], c["naive_stream"] / c["naive_full"]
            rows.append(("render CPU only ÷ one full render", fmt(o_r, "x"), fmt(v_r, "x"), ratio(v_r, o_r),
                         f"≤ 5× {'met' if o_r <= 5 else 'MISSED'}"))
        if v["cut"]:
            rows.append(("answers cut off (naive)", "", f"{v['cut']:.0f} of {pages}", "",
                         f"{CUTOFF_S:.0f} s after the upstream's last token"))
        for i, (metric, a, b, r, t) in enumerate(rows):
            lines.append(f"| {f'{pages} × {n:,}' if i == 0 else ''} | {metric} | {a} | {b} | {r} | {t} |")
    lines += ["", "Smoothness (how text grows on screen; per painted frame in which the text grew):", "",
              "| pages × tokens | app | chars / step p50 | p95 | max | steps / s | frames / s "
              "| text in ≥ 80-char jumps |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for pages, n in configs:
        for app in ("ours", "ours-no-reveal", "naive"):
            m = med.get((app, pages, n))
            if m is None:
                continue
            name = {"ours": "ours (reveal on)", "ours-no-reveal": "ours, reveal off", "naive": "naive"}[app]
            lines.append(f"| {pages} × {n:,} | {name} | {fmt(m['jump50'])} | {fmt(m['jump95'])} | "
                         f"{fmt(m['jumpmax'])} | {fmt(m['steps'])} | {fmt(m['fps'])} | {fmt(m['sentence'], '%')} |")
    lines += ["", "Reveal off (same server code, only the client-side reveal disabled):", "",
              "| pages × tokens | app | token→screen p50 | p95 | max | websocket bytes | server CPU / answer |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for pages, n in configs:
        for app in ("ours", "ours-no-reveal"):
            m = med.get((app, pages, n))
            if m is None or ("ours-no-reveal", pages, n) not in med:
                continue
            lines.append(f"| {pages} × {n:,} | {app} | {fmt(m['p50'], 'ms')} | {fmt(m['p95'], 'ms')} | "
                         f"{fmt(m['max'], 'ms')} | {fmt(m['ws_kb'], 'kb')} | {fmt(m['cpu'], 's')} |")
    lines += ["", "Measured in-process on the same answers (CPU time, median of repeats; no browser, no server):", "",
              "| tokens | one full render: ours | markdown2 | render work of a streamed answer: ours "
              "| naive (every token) | our patches as JSON ÷ final HTML | openai SDK reading the stream |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, c in sorted(costs.items()):
        lines.append(
            f"| {n:,} | {c['ours_full'] * 1000:.1f} ms | {c['naive_full'] * 1000:.1f} ms "
            f"| {c['ours_stream'] * 1000:.0f} ms in {c['flushes']:.0f} flushes "
            f"({c['ours_stream'] / c['ours_full']:.1f}×) "
            f"| {c['naive_stream']:.2f} s ({c['naive_stream'] / c['naive_full']:.0f}×) "
            f"| {c['patch_bytes'] / c['html_bytes']:.2f}× | {c.get('sdk_read', float('nan')) * 1000:.0f} ms |")
    rounds_note = sorted({(k, int(m["rounds"])) for k, m in med.items() if int(m["rounds"]) != rounds})
    if rounds_note:
        lines += ["", "Configurations with fewer rounds: " + ", ".join(
            f"{a} {p}×{n} ({r})" for (a, p, n), r in rounds_note) + "."]
    rates = [m["rate"] for m in med.values()]
    mapped = [m["mapped"] for m in med.values()]
    foreign = [m["foreign"] for m in med.values()]
    lines += ["", f"Other processes on the machine used {min(foreign):.2f}–{max(foreign):.2f} cores (median per "
              "configuration) while these ran; each configuration waited (≤ 45 s) for < 0.3 cores first."]
    lines += ["", f"Upstream rate achieved: {min(rates):.0f}–{max(rates):.0f} tokens/s; tokens mapped to a "
              f"screen time: {min(mapped) * 100:.0f}–{max(mapped) * 100:.0f} % (the rest carry no word)."]
    return "\n".join(lines)


def write_results(path: Path, table: str) -> None:
    """Replace the generated block of RESULTS.md (between the markers), keeping the prose around it."""
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    block = f"{start}\n{table}\n{end}"
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{start}\n{end}\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text += "\n" + block + "\n"
    path.write_text(text)


def log_run(run: ConfigRun, rounds: int) -> None:
    """One line per configuration run, as it finishes."""
    s = summarise(run)
    print(f"round {run.round + 1}/{rounds} {run.app:>14} {run.pages}×{run.tokens:<5} "
          f"ws {s['ws_kb']:8.1f} KB {s['ws_frames']:6.0f} fr  html {s['html_kb']:5.1f} KB  "
          f"p50 {s['p50']:7.0f} p95 {s['p95']:7.0f} max {s['max']:7.0f} ms  cpu {s['cpu']:6.2f} s  "
          f"jump p50/p95 {s['jump50']:.0f}/{s['jump95']:.0f}  steps/s {s['steps']:.0f}  "
          f"{s['rate']:.0f} tok/s  wall {run.wall_s:.1f} s  other load {run.foreign:.2f} cores", flush=True)


# --------------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description="streamchat vs naive ui.markdown streaming benchmark")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--heavy-rounds", type=int, default=1,
                        help="rounds with naive × 3,000 tokens (it falls minutes behind: cut off, lower bounds)")
    parser.add_argument("--quick", action="store_true", help="1 round, 300 tokens: for development")
    parser.add_argument("--results", type=Path, help="update the generated block of this markdown file")
    parser.add_argument("--json", type=Path, help="write every run's raw numbers here")
    parser.add_argument("--report-only", type=Path, metavar="JSON",
                        help="no measuring: print (and --results) the report of a run saved with --json")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads(args.report_only.read_text())
        med = medians(((r["app"], r["pages"], r["tokens"]), r["summary"]) for r in saved["runs"])
        table = report(med, {int(k): v for k, v in saved["costs"].items()}, saved["machine"],
                       saved["rounds"], saved["elapsed"])
        print(table)
        if args.results:
            write_results(args.results, table)
        return
    sizes = (300,) if args.quick else (600, 3000)
    rounds = 1 if args.quick else args.rounds
    started = time.monotonic()
    info = machine()
    print(f"{info['date']}: {info['cpu']}, {info['chromium']}", flush=True)
    costs = render_costs(sizes)
    print("render costs:", json.dumps(costs), flush=True)

    fake = FakeUpstream().start()
    for n, floor in sdk_floor(fake, sizes).items():
        costs[n]["sdk_read"] = floor
    print("openai SDK read CPU:", json.dumps({n: c["sdk_read"] for n, c in costs.items()}), flush=True)
    runs: list[ConfigRun] = []
    with tempfile.TemporaryDirectory(prefix="streamchat-bench-") as tmp:
        servers = {name: Server(spec, fake, Path(tmp)) for name, spec in APPS.items()}
        try:
            for s in servers.values():
                s.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                idle: dict[str, float] = {}
                for name, s in servers.items():  # warm-up answer (imports, lexers, caches), not recorded
                    run_config(browser, s, fake, 0.0, 1, 120, -1, 999)
                    time.sleep(1.0)
                    c0 = s.cpu()
                    time.sleep(2.0)
                    idle[name] = (s.cpu() - c0) / 2.0
                print("idle CPU (s/s):", json.dumps(idle), flush=True)
                for rnd in range(rounds):
                    order = ["ours", "ours-no-reveal", "naive"]
                    if rnd % 2:
                        order.reverse()
                    for pages in (1, 4):
                        for n in sizes:
                            for name in order:
                                if name == "ours-no-reveal" and pages > 1 and n >= 3000:
                                    continue  # the reveal is client-side; 4 × 600 shows its browser cost
                                if name == "naive" and n >= 3000 and rnd >= args.heavy_rounds:
                                    continue
                                wait_quiet()
                                run = run_config(browser, servers[name], fake, idle[name], pages, n, rnd,
                                                 seed=n + pages)
                                runs.append(run)
                                log_run(run, rounds)
                                time.sleep(1.0)
                browser.close()
        finally:
            for s in servers.values():
                s.stop()
            fake.stop()
    elapsed = time.monotonic() - started
    table = report(medians(((r.app, r.pages, r.tokens), summarise(r)) for r in runs), costs, info, rounds, elapsed)
    print("\n" + table)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "costs": costs, "rounds": rounds, "elapsed": elapsed,
                                         "runs": [
            {**{k: v for k, v in r.__dict__.items() if k != "pages_runs"},
             "summary": summarise(r)} for r in runs]}, indent=1))
    if args.results:
        write_results(args.results, table)


if __name__ == "__main__":
    main()
