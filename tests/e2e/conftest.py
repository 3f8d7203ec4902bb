"""Browser fixtures: one headless Chromium per session, a fresh context and page per test.

Playwright cannot download its browsers on our machines, so we fall back to Debian's Chromium
(`tests/setup.sh` installs it). Fixtures and tests here are sync: Playwright's sync API
refuses to run while an asyncio loop is running in the thread.
"""

from __future__ import annotations

import inspect
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from tests.conftest import node_failed

ARTIFACTS = Path(__file__).resolve().parent.parent / ".artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
DEFAULT_TIMEOUT_MS = 10_000


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail async tests here with a reason: once sync Playwright starts, it keeps an event loop
    running in the main thread, and pytest-asyncio's runner then dies with a cryptic RuntimeError."""
    if inspect.iscoroutinefunction(getattr(item, "function", None)):
        pytest.fail("e2e tests must be plain sync functions (Playwright sync API); "
                    "put async tests in tests/unit or tests/ui", pytrace=False)


def chromium_executable(pw: Playwright) -> str | None:
    """Playwright's own Chromium if installed, else the system one; None lets Playwright decide."""
    with_own = Path(pw.chromium.executable_path)
    if with_own.exists():
        return str(with_own)
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    exe = chromium_executable(playwright)
    if exe is None:
        pytest.fail("No Chromium found: run `bash tests/setup.sh` (installs Debian's chromium).")
    browser = playwright.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in its own context; on failure a screenshot and the console log go to tests/.artifacts/."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    console: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        console.append(f"[{msg.type}] {msg.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda err: console.append(f"[pageerror] {err}"))
    yield page
    if node_failed(request):
        ARTIFACTS.mkdir(exist_ok=True)
        stem = re.sub(r"[^\w.-]+", "_", request.node.nodeid)[-150:]
        for i, p in enumerate(context.pages):
            try:
                p.screenshot(path=ARTIFACTS / f"{stem}{f'-{i}' if i else ''}.png", full_page=True, timeout=5000)
            except Exception as e:  # a crashed page must not hide the real failure
                console.append(f"[harness] screenshot failed: {e}")
        (ARTIFACTS / f"{stem}.console.txt").write_text("\n".join(console))
        print(f"\n----- artifacts: {ARTIFACTS / stem}.* -----")
    context.close()
