"""What one send costs the server and the websocket as the conversation list grows.

    git archive 11afebf | tar -x -C /tmp/co/rebuild     # a checkout that rebuilds the list per refresh
    uv run python bench/sidebar.py [--lists 1 200] [--sends 12] [name=DIR ...]

For each app directory (default: this checkout) and each list length N: a page sends a first
message, N - 1 older conversations are added to its owner with the app's own Store, the page is
reloaded, then it sends `--sends` messages with a five-word answer each. Printed: the app process's
CPU per send (psutil, 10 ms resolution) and the websocket bytes the page received per send, medians.
Apps alternate per list length. A benchmark, not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.run as br  # noqa: E402
from bench.pages_ab import start  # noqa: E402
from services.store import Store  # noqa: E402
from tests.fake_upstream import FakeUpstream, Reply  # noqa: E402
from tests.seed import owner_of  # noqa: E402


def add_conversations(db_url: str, owner: str, n: int) -> None:
    async def go() -> None:
        store = Store(db_url)
        for i in range(n):
            await store.create_conversation(owner, f"Older conversation number {i}")
        store.engine.dispose()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()


def measure(browser: object, server: br.Server, n: int, sends: int) -> tuple[float, float]:
    """(CPU ms, websocket bytes) per send, medians, with n conversations listed."""
    page = browser.new_context().new_page()  # type: ignore[attr-defined]
    received = [0]
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: received.__setitem__(0, received[0] + len(f))))
    page.goto(server.url + "/")
    box = page.get_by_role("textbox", name="Message")
    box.fill("start")
    box.press("Enter")
    answers = page.locator("[data-role=assistant][data-status=done]")
    answers.first.wait_for()
    db_url = f"sqlite:///{server.data_dir / 'streamchat.db'}"
    add_conversations(db_url, owner_of(db_url, page.url.rsplit("/", 1)[1]), n - 1)
    page.reload()
    box.wait_for()
    page.get_by_role("navigation", name="Conversations").get_by_role("link").nth(n - 1).wait_for()
    cpu, sent = [], []
    for i in range(sends):
        br.wait_quiet(max_wait=2.0)
        c0, b0 = server.cpu(), received[0]
        box.fill(f"question {i}")
        box.press("Enter")
        answers.nth(i + 1).wait_for()
        time.sleep(0.3)  # the sidebar's refresh after the answer is part of the send
        cpu.append((server.cpu() - c0) * 1000)
        sent.append(received[0] - b0)
    page.context.close()
    return statistics.median(cpu), statistics.median(sent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lists", type=int, nargs="+", default=[1, 200])
    parser.add_argument("--sends", type=int, default=12)
    parser.add_argument("apps", nargs="*", default=[f"this={ROOT}"])
    args = parser.parse_args()
    apps = {name: Path(path) for name, path in (a.split("=", 1) for a in args.apps)}
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    from playwright.sync_api import sync_playwright

    fake = FakeUpstream().start()
    fake.default = Reply(text="One two three four five.")
    with tempfile.TemporaryDirectory(prefix="streamchat-sidebar-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=br.CHROMIUM, headless=True, args=br.CHROMIUM_ARGS)
        try:
            for k, n in enumerate(args.lists):
                for name in list(apps) if k % 2 == 0 else list(apps)[::-1]:
                    server = start(f"{name}-{n}", apps[name], fake, Path(tmp))
                    try:
                        cpu, sent = measure(browser, server, n, args.sends)
                    finally:
                        server.stop()
                    per_send = f"{cpu:6.0f} ms CPU, {sent / 1000:7.1f} KB websocket per send"
                    print(f"{name:>10}  {n:4d} conversations listed: {per_send}", flush=True)
        finally:
            browser.close()
            fake.stop()


if __name__ == "__main__":
    main()
