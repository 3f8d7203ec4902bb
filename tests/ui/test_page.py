"""Page logic through NiceGUI's simulated User: fast, no browser, real services and SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nicegui import ElementFilter
from nicegui.testing import User

from components.chat_page import register_pages
from components.message import AssistantMessage
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


async def test_oversized_message_is_refused_and_kept_in_the_box(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    setup(fake_upstream, tmp_path, max_message_chars=50)
    await user.open("/")
    user.find(marker="message").type("x" * 60)
    user.find(marker="send").click()
    await user.should_see("the limit is 50")
    assert user.find(marker="message").elements.pop().value == "x" * 60
    assert fake_upstream.requests == []


async def test_sent_message_clears_the_box_and_the_answer_arrives(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    fake_upstream.enqueue(Reply(text="Simulated answer."))
    setup(fake_upstream, tmp_path)
    await user.open("/")
    user.find(marker="message").type("hello from the simulated user")
    user.find(marker="send").click()
    await user.should_see("hello from the simulated user")
    answer = await wait_for_answer(user)
    assert answer.body.text == "Simulated answer."
    assert answer.props["data-status"] == "done"
    assert user.find(marker="message").elements.pop().value == ""


async def test_unknown_conversation_is_not_found(user: User, fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    setup(fake_upstream, tmp_path)
    await user.open("/c/0123456789abcdef0123456789abcdef")
    await user.should_see("does not exist, or it is not yours")
