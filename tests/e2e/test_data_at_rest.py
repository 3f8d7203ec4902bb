"""Secrets and data at rest in the real app: no credentials in the log, private files, no weak secret."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import free_port
from tests.fake_upstream import FakeUpstream

PASSWORD = "pw-in-the-base-url-4711"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_no_url_password_in_the_log_and_private_files(app_server, fake_upstream: FakeUpstream, page: Page) -> None:
    app = app_server({"OPENAI_BASE_URL": f"http://proxyuser:{PASSWORD}@127.0.0.1:{fake_upstream.port}/v1"})
    page.goto(app.url)
    box = page.get_by_role("textbox", name="Message")
    box.fill("hello")
    box.press("Enter")
    expect(page.locator('[data-role="assistant"][data-status="done"]')).to_have_count(1)
    page.get_by_role("button", name="Dark mode").click()  # writes this user's preferences file
    fake_upstream.wait_for_end(1)

    log = app.log_text()
    assert re.search(r"HTTP Request: POST http://(\*\*\*@)?127\.0\.0\.1", log)  # the request is logged...
    assert PASSWORD not in log  # ...without the password

    data = app.data_dir
    preferences = list((data / "nicegui").glob("storage-user-*.json"))
    assert preferences
    assert mode(data) == 0o700 and mode(data / "nicegui") == 0o700
    for path in [
        data / ".storage_secret",
        data / "streamchat.db",
        data / "streamchat.db-wal",
        data / "streamchat.db-shm",
        *preferences,
    ]:
        assert mode(path) == 0o600, path


def exit_code(app) -> int:
    """A refused start ends the process on its own; wait for that (bounded) and give its code."""
    assert app.proc is not None
    return app.proc.wait(60)


def test_short_storage_secret_is_refused_at_start(app_server, fake_upstream: FakeUpstream) -> None:
    app = app_server({"STORAGE_SECRET": "too-short"}, wait=False)
    assert exit_code(app) != 0
    assert "STORAGE_SECRET must be at least 32 bytes (it has 9)" in app.log_text()


def test_unreachable_database_is_named_at_start_without_its_password(app_server, fake_upstream: FakeUpstream) -> None:
    closed = free_port()  # nothing listens there: the connection is refused
    app = app_server({"DATABASE_URL": f"postgresql+psycopg://bob:{PASSWORD}@127.0.0.1:{closed}/chat"}, wait=False)
    assert exit_code(app) == 1
    log = app.log_text()
    assert f"the database postgresql+psycopg://bob:***@127.0.0.1:{closed}/chat cannot be used" in log
    assert "Connection refused" in log and PASSWORD not in log  # the harness also fails on a traceback
