"""The workspace menu's page logic through NiceGUI's simulated User: real services and SQLite."""

from __future__ import annotations

import re
from pathlib import Path

from nicegui.testing import User

from tests.fake_upstream import FakeUpstream, Reply
from tests.ui.test_page import setup, wait_for_answer


async def start(user: User, fake: FakeUpstream, tmp_path: Path, text: str) -> None:
    """A page with one finished conversation, in a browser that says it is in Tokyo."""
    fake.enqueue(Reply(text="ok"))
    setup(fake, tmp_path)
    user.javascript_rules[re.compile(r".*resolvedOptions\(\)\.timeZone")] = lambda _: "Asia/Tokyo"
    await user.open("/")
    user.find(marker="message").type(text)
    user.find(marker="send").click()
    await wait_for_answer(user)


async def test_a_refused_title_keeps_the_dialog_and_a_saved_one_reaches_the_header(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    await start(user, fake_upstream, tmp_path, "old name")
    user.find(marker="conversation-actions").click()
    user.find(marker="conv-rename").click()
    await user.should_see("Rename conversation")
    user.find(marker="title").clear()
    user.find("Save").click()
    await user.should_see("Type a title.")
    await user.should_see("old name")  # the sidebar still has it: nothing was saved
    user.find(marker="title").type("new name")
    user.find("Save").click()
    await user.should_not_see("Type a title.")
    await user.should_see(marker="conversation-title", content="new name")
