"""MarkdownView in real Chromium, on a tiny standalone NiceGUI page (subprocess on 127.0.0.1).

Checks what only a browser can: the patched DOM equals the reference render, the websocket carries
patches rather than whole documents, text is revealed progressively, Copy copies the raw code,
remote images load only on click, and a lost patch heals through a resync.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, WebSocket, expect

from services.markdown import render_markdown
from tests.conftest import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
CODE = 'def greet(name: str) -> str:\n    return f"<b>{name}</b>"  # & more\n'
DOC = (
    "# Title\n\nSome **bold** text and `code` and a [link](https://example.com).\n\n"
    + "".join(f"{i}. item {i} with *emphasis*\n" for i in range(1, 16))
    + f"\n```python\n{CODE}```\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n> quoted\n\n"
    + "![diagram](https://images.example.com/d.png)\n\n"
    + "Final paragraph with several words to reveal progressively. " * 5
)
PAGE = textwrap.dedent(
    """
    import asyncio, os, sys
    sys.path.insert(0, os.environ["REPO_ROOT"])
    from nicegui import ui
    from components.markdown_view import MarkdownView

    DOC = open(os.environ["DOC_PATH"], encoding="utf-8").read()

    @ui.page("/")
    async def index(step: int = 7):
        view = MarkdownView()
        status = ui.label("streaming").props(f"id=status data-view={view.id}")

        async def run():
            await asyncio.sleep(0.3)
            for i in range(0, len(DOC), step):
                view.push(DOC[i : i + step])
                await asyncio.sleep(0.02)
            view.finish()
            await asyncio.sleep(0.1)
            status.set_text("done")

        ui.timer(0.1, run, once=True)

    ui.run(host="127.0.0.1", port=int(sys.argv[1]), reload=False, show=False)
    """
)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("mdview")
    (tmp / "page.py").write_text(PAGE, encoding="utf-8")
    (tmp / "doc.md").write_text(DOC, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(REPO_ROOT=str(REPO_ROOT), DOC_PATH=str(tmp / "doc.md"))
    port = free_port()
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, str(tmp / "page.py"), str(port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while True:
        try:
            opener.open(url + "/", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("markdown demo page did not start:\n" + (tmp / "server.log").read_text())
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


COUNT_REVEAL_SPANS = """
window.__rv = 0;
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes)
    if (n.nodeType === 1 && n.classList.contains('md-rv')) window.__rv++;
}).observe(document, {childList: true, subtree: true});
"""
SAME_AS_REFERENCE = """(ref) => {
  const t = document.createElement('template');
  t.innerHTML = ref;
  const v = document.querySelector('.md-view');
  return v.children[0].innerHTML + v.children[1].innerHTML === t.innerHTML;
}"""


def _stream(page: Page, url: str) -> int:
    """Open the page, wait for the end of the stream; return websocket bytes received."""
    received = [0]

    def on_ws(ws: WebSocket) -> None:
        ws.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload)))

    page.on("websocket", on_ws)
    page.add_init_script(COUNT_REVEAL_SPANS)
    page.goto(url + "/")
    expect(page.locator("#status")).to_have_text("done", timeout=30_000)
    return received[0]


def test_patched_dom_equals_reference_and_websocket_carries_only_patches(page: Page, server: str) -> None:
    ws_bytes = _stream(page, server)
    reference = render_markdown(DOC)
    page.wait_for_function("!document.querySelector('.md-view .md-rv')")
    assert page.evaluate(SAME_AS_REFERENCE, reference)
    assert page.evaluate("window.__rv") > 0, "text was not revealed progressively"
    # What ui.markdown-style full re-sends would cost for the same pushes (step 7 in PAGE):
    naive = sum(len(render_markdown(DOC[:i]).encode()) for i in range(7, len(DOC) + 7, 7))
    # Ours: the final HTML about once plus ~100 B of NiceGUI envelope per patch (and the handshake).
    pushes = len(range(0, len(DOC), 7)) + 1
    assert ws_bytes < 2 * len(reference.encode()) + 150 * pushes + 5000, (ws_bytes, naive)
    assert ws_bytes < naive / 5
    expect(page.get_by_role("heading", name="Title")).to_be_visible()
    expect(page.locator(".md-view img")).to_have_count(0)


def test_copy_button_copies_raw_code(page: Page, server: str) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    _stream(page, server)
    button = page.get_by_role("button", name="Copy")
    expect(button).to_have_count(1)
    button.click()
    expect(button).to_have_attribute("data-copied", "1")
    assert page.evaluate("navigator.clipboard.readText()") == CODE


def test_copy_falls_back_without_clipboard_api(page: Page, server: str) -> None:
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined});")
    _stream(page, server)
    page.evaluate(
        "window.__copied = null; document.addEventListener('copy', () => "
        "{ window.__copied = document.activeElement && document.activeElement.value; });"
    )
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copy")).to_have_attribute("data-copied", "1")
    assert page.evaluate("window.__copied") == CODE


def test_remote_image_loads_only_on_click(page: Page, server: str) -> None:
    requested: list[str] = []

    def fulfill(route):  # type: ignore[no-untyped-def]
        requested.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=PNG)

    page.route("https://images.example.com/**", fulfill)
    _stream(page, server)
    placeholder = page.get_by_role("button", name="diagram — images.example.com (click to load)")
    expect(placeholder).to_be_visible()
    page.wait_for_timeout(300)
    assert requested == []
    placeholder.click()
    expect(page.locator(".md-view img[alt='diagram']")).to_have_count(1)
    page.wait_for_function("document.querySelector('.md-view img').complete")
    assert requested == ["https://images.example.com/d.png"]


def test_lost_patch_heals_through_resync(page: Page, server: str) -> None:
    _stream(page, server)
    view_id = page.locator("#status").get_attribute("data-view")
    page.evaluate("document.querySelector('.md-view').children[0].innerHTML = '<p>garbage</p>'")
    page.evaluate(f"runMethod({view_id}, 'apply', [{{n: 1000000, c: '<p>skipped</p>'}}])")
    page.wait_for_function(SAME_AS_REFERENCE, arg=render_markdown(DOC))
