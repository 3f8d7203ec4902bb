"""Page logic through NiceGUI's simulated User: fast, no browser, real services and SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from nicegui import ElementFilter, background_tasks, ui
from nicegui.testing import User

from components.chat_page import register_pages
from components.message import AssistantMessage, UserMessage
from services.chat import Thread
from services.runtime import AppContext, build_context
from services.settings import Settings
from tests.fake_upstream import FakeUpstream, Reply


def setup(fake: FakeUpstream, tmp_path: Path, **kw: object) -> AppContext:
    settings = Settings(
        _env_file=None,
        openai_base_url=f"{fake.url}/v1",
        openai_api_key="test-key",
        openai_model="fake-model",
        streamchat_data_dir=tmp_path,
        **kw,
    )
    ctx = build_context(settings)
    register_pages(ctx.chat, ctx.api_keys)
    return ctx


def send(user: User, text: str) -> None:
    """Type and send as the page's script does (the simulated user runs no JavaScript): the browser
    empties the box and the text travels with the click. What the script does with a send that did
    not happen (it puts the text back) is tested in Chromium: tests/e2e/test_typing_ahead.py."""
    user.find(marker="message").type(text)
    user.find(marker="message").elements.pop().value = ""
    user.find(marker="send").trigger("click", {"key": "send", "text": text})


async def wait_for_answer(user: User, timeout: float = 5.0) -> AssistantMessage:
    """Polls the element tree until the answer is final (bounded by `timeout`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with user:
            views = [v for v in ElementFilter(kind=AssistantMessage) if v.props.get("data-status") != "streaming"]
        if views:
            return views[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no final answer in time")


async def test_empty_page_shows_which_model_answers(user: User, fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    setup(fake_upstream, tmp_path)
    await user.open("/")
    await user.should_see("What can I help with?")
    await user.should_see("fake-model")
    assert not user.find(marker="send").elements.pop().enabled


async def test_oversized_message_is_refused_with_the_limit_named(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    setup(fake_upstream, tmp_path, max_message_chars=50)
    await user.open("/")
    send(user, "x" * 60)
    await user.should_see("the limit is 50")
    await user.should_not_see("x" * 60)  # no question in the thread
    assert fake_upstream.requests == []
    user.find(marker="message").type("a short one")
    assert user.find(marker="send").elements.pop().enabled  # the composer is usable again


async def test_a_sent_message_is_shown_and_its_answer_arrives(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(Reply(text="Simulated answer."))
    setup(fake_upstream, tmp_path)
    await user.open("/")
    send(user, "hello from the simulated user")
    await user.should_see("hello from the simulated user")
    answer = await wait_for_answer(user)
    assert answer.body.text == "Simulated answer."
    assert answer.props["data-status"] == "done"
    assert fake_upstream.requests[0].messages[-1]["content"] == "hello from the simulated user"


async def test_unknown_conversation_is_not_found(user: User, fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    setup(fake_upstream, tmp_path)
    await user.open("/c/0123456789abcdef0123456789abcdef")
    await user.should_see("does not exist, or it is not yours")


async def wait_for_question(user: User, text: str, timeout: float = 5.0) -> UserMessage:
    """Polls the element tree until a question with this text is shown (bounded by `timeout`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with user:
            shown = [q for q in ElementFilter(kind=UserMessage) if q.message.content == text]
        if shown:
            return shown[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no question {text!r} in time")


async def test_an_edit_whose_answer_ends_before_the_page_reads_it_builds_the_thread_once(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's own edit is no news to it: a second build would drop a click made on the first one and
    close an edit box opened there."""
    ctx = setup(fake_upstream, tmp_path)
    await user.open("/")
    send(user, "plan a trip")
    await wait_for_answer(user)
    read = ctx.chat.thread

    async def read_once_saved(owner: str, conversation_id: str, **kw: Any) -> Thread:
        """The answer ends and is saved before the page reads the thread (a slow read, under load)."""
        deadline = asyncio.get_running_loop().time() + 5
        while ctx.chat.running(owner, conversation_id) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        return await read(owner, conversation_id, **kw)

    monkeypatch.setattr(ctx.chat, "thread", read_once_saved)
    (await wait_for_question(user, "plan a trip")).start_edit()
    user.find(kind=ui.textarea).clear().type("plan a trip to the mountains")
    user.find("Save and send").click()
    edited = await wait_for_question(user, "plan a trip to the mountains")
    edited.start_edit()  # what a click on its Edit button does
    catch_ups = [t for t in background_tasks.running_tasks if t.get_name() == "catch up with another tab"]
    await asyncio.gather(*catch_ups)
    assert not edited.is_deleted and edited.editor.visible
