"""Pages that end early: never connected (a health check) or closed while catching up with another tab.

Both used to raise inside NiceGUI's tasks, visible only in the server log; the `user` fixture
fails a test on any ERROR record, and each test also checks the log itself.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from nicegui import Client
from nicegui.testing import User

from services.models import Message
from services.store import Store
from tests.fake_upstream import FakeUpstream, Reply
from tests.ui.test_page import send, setup, wait_for_answer

CATCH_UP = "catch up with another tab"  # the task name ChatPage gives it


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def running(name: str) -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == name and not t.done()]


async def until_collected(ref: weakref.ref[Client], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while gc.collect() >= 0 and ref() is not None:
        assert loop.time() < deadline, "the deleted client is still referenced"
        await asyncio.sleep(0.05)


async def test_page_fetched_without_a_websocket_is_pruned_quietly(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    setup(fake_upstream, tmp_path)
    response = await user.http_client.get("/")  # what a health checker does: HTML, never a websocket
    assert response.status_code == 200
    [page_task] = running('wait for result of page "/"')  # the page, waiting for a connection
    Client.prune_instances(client_age_threshold=0)  # what NiceGUI's timer does to it 60 s later
    await asyncio.wait_for(page_task, 5)
    assert errors(caplog) == []


async def test_tab_closed_while_catching_up_with_another_tab(
    user: User,
    fake_upstream: FakeUpstream,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_upstream.enqueue(Reply(text="First answer."))
    fake_upstream.enqueue(Reply(text="Second answer."))
    setup(fake_upstream, tmp_path)
    tab_a = await user.open("/")
    send(user, "first")
    await wait_for_answer(user)
    with sqlite3.connect(tmp_path / "streamchat.db") as db:
        [(conversation_id,)] = db.execute("SELECT id FROM conversation").fetchall()
    await user.open(f"/c/{conversation_id}")  # tab B, same browser, same conversation

    # Tab A's catch-up reads the thread from the database; hold that read until tab A is gone.
    entered, release = asyncio.Event(), asyncio.Event()
    original: Callable[..., Awaitable[tuple[list[Message], bool]]] = Store.list_turns

    async def held_read(self: Store, owner: str, conv: str, **page: int | None) -> tuple[list[Message], bool]:
        task = asyncio.current_task()
        if task is not None and task.get_name() == CATCH_UP:
            entered.set()
            await release.wait()
        return await original(self, owner, conv, **page)

    monkeypatch.setattr(Store, "list_turns", held_read)
    send(user, "second")  # in tab B: tab A hears of the new answer and catches up
    await asyncio.wait_for(entered.wait(), 5)
    tab_a.delete()  # the tab is closed: NiceGUI deletes its client...
    gone = weakref.ref(tab_a)
    del tab_a
    await until_collected(gone)  # ...and, once its outbox loop ends, nothing keeps it alive
    release.set()
    await asyncio.wait_for(asyncio.gather(*running(CATCH_UP), return_exceptions=True), 5)
    await wait_for_answer(user)
    assert errors(caplog) == []
