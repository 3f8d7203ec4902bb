"""The workspace menu's page logic through NiceGUI's simulated User: real services and SQLite."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from services.transfer import MAX_IMPORT_BYTES
from tests.fake_upstream import FakeUpstream, Reply
from tests.ui.test_page import send, setup, wait_for_answer


async def start(user: User, fake: FakeUpstream, tmp_path: Path, text: str) -> None:
    """A page with one finished conversation, in a browser that says it is in Tokyo."""
    fake.enqueue(Reply(text="ok"))
    setup(fake, tmp_path)
    user.javascript_rules[re.compile(r".*resolvedOptions\(\)\.timeZone")] = lambda _: "Asia/Tokyo"
    await user.open("/")
    send(user, text)
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



async def test_an_import_over_the_limit_is_refused_unread_and_a_good_one_lands_in_the_sidebar(
    user: User, fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    await start(user, fake_upstream, tmp_path, "already here")
    user.find(marker="settings").click()
    await user.should_see("Import conversations")
    upload = user.find(kind=ui.upload).elements.pop()
    huge = SmallFileUpload("big.json", "application/json", b" " * (MAX_IMPORT_BYTES + 1))
    await upload.handle_uploads([huge])
    await user.should_see("Nothing was imported. The file is too large to import (the limit is 20 MB).")
    stamp = "2026-01-02T03:04:05+00:00"
    doc = {"format": "streamchat.conversations", "version": 1, "conversations": [
        {"title": "from a file", "created_at": stamp, "updated_at": stamp, "messages": []}]}
    await upload.handle_uploads([SmallFileUpload("ok.json", "application/json", json.dumps(doc).encode())])
    await user.should_see("Imported 1 conversation.")
    await user.should_see("from a file")  # the sidebar, told by the service
