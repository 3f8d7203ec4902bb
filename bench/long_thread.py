"""Opening long conversations: time until the newest turn is visible, and the stall others see meanwhile.

    uv run python bench/long_thread.py [--turns 120,500] [--rounds 3] [--base e40ee40]

Runs this checkout and a checkout of ``--base`` (exported with ``git archive`` into a temp dir)
as ``app.py`` subprocesses with their own data dirs, against the fake upstream, in real headless
Chromium. For each app and thread length, one conversation is started by a real send (so it belongs
to the browser's identity) and then seeded with the app's own Store: ~3 KB of mixed markdown per
answer (``bench/answers.py``). Each round opens it twice with ``page.goto``:

* cold: the rendered-HTML cache emptied first (the base has none, so its cold and warm are alike);
* warm: right after the cold opening;
* idle: no opening at all, only the probe (its noise floor on a busy machine).

Reported per opening (median over rounds, and the worst): milliseconds from ``goto`` until the
newest answer is in the viewport, and the worst latency of a probe that requests a small route of
the same server every 10 ms meanwhile (an event-loop stall makes every other user wait that long).
A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.answers import make_answer  # noqa: E402
from tests.conftest import app_env, free_port  # noqa: E402
from tests.e2e.conftest import CHROMIUM_ARGS  # noqa: E402
from tests.fake_upstream import FakeUpstream  # noqa: E402
from tests.seed import owner_of, seed_turns  # noqa: E402

ANSWER_TOKENS = 450  # ~3 KB of markdown
OPEN_TIMEOUT_S = 30.0
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
NEWEST_VISIBLE = """() => {
  const all = document.querySelectorAll('[data-role="assistant"]');
  const last = all[all.length - 1];
  if (!last || last.dataset.messageId !== String(window.__newest)) return false;
  const r = last.getBoundingClientRect();
  return r.bottom > 0 && r.top < innerHeight && r.height > 0;
}"""


class App:
    """`python app.py` from a given source tree, on a free port, with its own data dir."""

    def __init__(self, name: str, tree: Path, fake: FakeUpstream, work: Path) -> None:
        self.name, self.tree = name, tree
        self.data = work / f"data-{name}"
        self.data.mkdir(parents=True)
        self.port = free_port()
        self.log = open(work / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port), "--no-browser"]
        self.proc = subprocess.Popen(
            cmd,
            cwd=tree,
            env=app_env(fake, self.data),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), _DIRECT.open(self.url + "/_streamchat/markdown.css", timeout=2):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{name} did not start; see {self.log.name}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.data / "streamchat.db"

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 15)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(5)
        self.log.close()


class Probe:
    """Requests a cheap route every 10 ms; the worst latency is how long another user was kept waiting."""

    def __init__(self, url: str) -> None:
        self.url = url + "/_streamchat/markdown.css"
        self.worst = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.perf_counter()
            with contextlib.suppress(OSError), _DIRECT.open(self.url, timeout=30) as r:
                r.read()
            self.worst = max(self.worst, time.perf_counter() - t)
            self._stop.wait(0.01)


def start_conversation(page: Page, app: App) -> str:
    """A real send, so the conversation has this browser's owner; returns its id."""
    page.goto(app.url)
    box = page.get_by_role("textbox", name="Message")
    box.fill("start")
    box.press("Enter")
    page.wait_for_selector('[data-role="assistant"][data-status="done"]', timeout=30_000)
    page.wait_for_url("**/c/*")
    return page.url.rsplit("/", 1)[1]


def newest_answer_id(db: Path, conversation_id: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as con:
        row = con.execute(
            "SELECT max(id) FROM message WHERE conversation_id = ? AND role = 'assistant'", (conversation_id,)
        ).fetchone()
    return int(row[0])


def clear_cache(db: Path) -> None:
    with contextlib.closing(sqlite3.connect(db)) as con:
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'rendered_answer'").fetchone():
            con.execute("DELETE FROM rendered_answer")
            con.commit()


def open_once(page: Page, app: App, conversation_id: str, newest: int) -> tuple[float | None, float, str]:
    """(ms until the newest answer is visible or None, worst probe latency in ms, note)."""
    page.add_init_script(f"window.__newest = {newest};")
    with Probe(app.url) as probe:
        t0 = time.perf_counter()
        response = page.goto(f"{app.url}/c/{conversation_id}", wait_until="commit", timeout=OPEN_TIMEOUT_S * 1000)
        status = response.status if response is not None else 0
        note = "" if status == 200 else f"HTTP {status}"
        visible: float | None = None
        if status == 200:
            try:
                page.wait_for_function(NEWEST_VISIBLE, polling="raf", timeout=OPEN_TIMEOUT_S * 1000)
                visible = (time.perf_counter() - t0) * 1000
            except Exception as exc:  # a timeout is a result here, not a crash
                note = type(exc).__name__
        time.sleep(0.3)  # let the probe see any stall right after the page is shown
    return visible, probe.worst * 1000, note


def measure(browser: Browser, app: App, turns: int, rounds: int) -> dict[str, list[tuple[float | None, float, str]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    conversation_id = start_conversation(page, app)
    db_url = f"sqlite:///{app.db}"
    seed_turns(
        db_url,
        owner_of(db_url, conversation_id),
        conversation_id,
        turns - 1,
        lambda i: [make_answer(ANSWER_TOKENS, seed=turns * 1000 + i)],
    )
    newest = newest_answer_id(app.db, conversation_id)
    out: dict[str, list[tuple[float | None, float, str]]] = {"idle": [], "cold": [], "warm": []}
    for _ in range(rounds):
        with Probe(app.url) as probe:  # the noise floor: this page open, nothing being opened
            time.sleep(1.5)
        out["idle"].append((None, probe.worst * 1000, ""))
        page.goto(app.url)  # away from the thread, so each opening builds it anew
        clear_cache(app.db)
        out["cold"].append(open_once(page, app, conversation_id, newest))
        page.goto(app.url)
        out["warm"].append(open_once(page, app, conversation_id, newest))
    context.close()
    return out


def summary(runs: list[tuple[float | None, float, str]]) -> str:
    times = [v for v, _, _ in runs if v is not None]
    stalls = [s for _, s, _ in runs]
    notes = sorted({n for _, _, n in runs if n})
    shown = f"{statistics.median(times):7.0f} {max(times):7.0f}" if times else f"{'-':>7} {'-':>7}"
    failed = f" {len(runs) - len(times)}/{len(runs)} failed: {', '.join(notes)}" if notes else ""
    return f"{shown}   {statistics.median(stalls):7.0f} {max(stalls):7.0f}{failed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", default="120,500", help="thread lengths, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", default="e40ee40", help="commit to compare against")
    args = parser.parse_args()
    sizes = [int(n) for n in args.turns.split(",")]
    with tempfile.TemporaryDirectory(prefix="long-thread-") as tmp:
        work = Path(tmp)
        base = work / "base"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        fake = FakeUpstream().start()
        apps = [App(f"base-{args.base}", base, fake, work), App(f"this-{head}", ROOT, fake, work)]
        print(
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
            f"{args.rounds} rounds, ~{len(make_answer(ANSWER_TOKENS, 1)) / 1000:.1f} KB per answer"
        )
        print(f"{'app':<16} {'turns':>5} {'cache':<5}   {'visible ms':>15}   {'probe stall ms':>15}")
        print(f"{'':<16} {'':>5} {'':<5}   {'median':>7} {'worst':>7}   {'median':>7} {'worst':>7}")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
                for turns in sizes:
                    for app in apps:
                        results = measure(browser, app, turns, args.rounds)
                        for kind, runs in results.items():
                            print(f"{app.name:<16} {turns:>5} {kind:<5}   {summary(runs)}", flush=True)
                browser.close()
        finally:
            for app in apps:
                app.stop()
            fake.stop()


if __name__ == "__main__":
    main()
