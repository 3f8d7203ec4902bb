"""The workspace through ChatService: rename, pin, delete (also under a running answer), export and
import with a byte-for-byte round trip, and the news other tabs get. Real services, a real SQLite
file and the fake upstream over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from services import groups
from services.changes import Changed
from services.chat import ChatError, NotFound
from services.models import Conversation, Message, RenderedAnswer, Status
from services.steering import Steering
from services.transfer import MAX_IMPORT_BYTES, filename
from tests.fake_upstream import FakeUpstream, Reply
from tests.unit.test_chat_pages import two_versions
from tests.unit.test_generation import finish, make_chat, openai_settings


def without_volatile(export: str) -> dict:
    """An export minus what legitimately differs between two of them: ids and the time of export."""
    doc = json.loads(export)
    doc.pop("exported_at")
    for conv in doc["conversations"]:
        conv.pop("id")
    return doc


async def test_rename_cleans_the_title_refuses_bad_ones_and_tells_other_tabs(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    conv = await chat.new_conversation("me", "Old title")
    news: list[Changed] = []
    unwatch = chat.watch_conversations("me", news.append)
    chat.watch_conversations("someone else", lambda c: pytest.fail("told another owner"))
    assert await chat.rename("me", conv.id, "  Trip\n to   Kyoto ") == "Trip to Kyoto"
    for bad, says in (("   ", "Type a title"), ("x" * 201, "at most 200")):
        with pytest.raises(ChatError, match=says):
            await chat.rename("me", conv.id, bad)
    with pytest.raises(NotFound):
        await chat.rename("someone else", conv.id, "Mine now")
    assert (await chat.conversations("me"))[0].title == "Trip to Kyoto"
    assert news == [Changed("renamed", conv.id, "Trip to Kyoto")]
    unwatch()


async def test_pin_is_owner_scoped_and_leads_the_groups(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    old = await chat.new_conversation("me", "Old")
    new = await chat.new_conversation("me", "New")
    await chat.pin("me", old.id)
    with pytest.raises(NotFound):
        await chat.pin("someone else", new.id)
    listed = await chat.conversations("me")
    grouped = groups.group(listed, datetime.now(UTC), groups.zone("Europe/Berlin"))
    assert [(h, [c.title for c in cs]) for h, cs in grouped] == [("Pinned", ["Old"]), ("Today", ["New"])]
    await chat.pin("me", old.id, False)
    assert not (await chat.conversations("me"))[1].pinned


def test_groups_use_the_readers_time_zone_not_utc() -> None:
    now = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)  # 09:30 on the 22nd in Tokyo
    late = datetime(2026, 11, 21, 16, 0)  # naive, as SQLite returns it: 01:00 on the 22nd in Tokyo
    assert groups.heading(late, now, groups.zone("Asia/Tokyo")) == "Today"
    assert groups.heading(late, now, groups.zone("UTC")) == "Yesterday"
    assert groups.heading(now - timedelta(days=3), now, groups.zone("Asia/Tokyo")) == "Previous 7 days"
    assert groups.heading(now - timedelta(days=8), now, groups.zone("Asia/Tokyo")) == "Older"
    assert groups.zone("Not/AZone").key == "UTC" and groups.zone(None).key == "UTC"


async def test_delete_removes_messages_and_cached_html_and_stops_a_running_answer(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat, conv, *_ = await two_versions(fake_upstream, tmp_path)
    await chat.thread("me", conv)  # opening it caches the HTML of the answer shown
    with Session(chat.store.engine) as s:
        assert s.exec(select(RenderedAnswer)).all()
    fake_upstream.enqueue(Reply(text="word " * 400, interval=0.02))
    running = await chat.send("me", conv, "a long one")
    with pytest.raises(ChatError, match="Wait for the current answer"):
        await chat.delete_conversation("me", conv)  # the API's rule: 409 while generating
    news: list[Changed] = []
    chat.watch_conversations("me", news.append)
    await chat.delete_conversation("me", conv, stop=True)
    assert chat.hub.get("me", running.assistant_message.id) is None
    with Session(chat.store.engine) as s:
        assert s.exec(select(Message)).all() == [] and s.exec(select(RenderedAnswer)).all() == []
    with pytest.raises(NotFound):
        await chat.thread("me", conv)
    assert news == [Changed("deleted", conv)]


async def test_export_import_export_gives_the_same_content(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    chat, conv, *_ = await two_versions(fake_upstream, tmp_path)  # two versions of one answer
    await chat.rename("me", conv, "Versions / and: odd *chars*")
    await chat.pin("me", conv)
    await chat.steer("me", conv, Steering("Be brief.", 0.4, 200))
    other = await chat.new_conversation("me", "Empty one")
    first = await chat.export("me", [conv, other.id])
    assert first.filename.startswith("streamchat-") and first.media_type == "application/json"
    doc = json.loads(first.content)
    [answer_1, answer_2] = [m for m in doc["conversations"][0]["messages"] if m["role"] == "assistant"]
    assert answer_1["reply_to"] == answer_2["reply_to"] == 0 and answer_2["status"] == "done"
    assert answer_1["model"] == "fake-model" and "created_at" in answer_1 and "completion_tokens" in answer_1["usage"]
    steered = {"system_prompt": "Be brief.", "temperature": 0.4, "max_tokens": 200, "model": None}
    assert doc["conversations"][0]["settings"] == steered and doc["conversations"][1]["settings"] is None

    assert await chat.import_conversations("you", first.content.encode()) == 2
    imported = [c.id for c in await chat.conversations("you")]
    again = await chat.export("you", sorted(imported, key=lambda i: i != imported[-1]))  # same order as first
    assert without_volatile(again.content) == without_volatile(first.content)
    assert json.dumps(without_volatile(again.content)) == json.dumps(without_volatile(first.content))
    [turn] = (await chat.thread("you", imported[-1])).turns
    assert len(turn.versions) == 2 and "second" in turn.answer.content
    assert await chat.steering("you", imported[-1]) == Steering("Be brief.", 0.4, 200)


async def test_markdown_export_shows_the_visible_thread_with_a_safe_filename(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat, conv, *_ = await two_versions(fake_upstream, tmp_path)
    await chat.rename("me", conv, "Plans: 2027/Q1 (draft)")
    md = await chat.export("me", [conv], "markdown")
    assert md.filename == "plans-2027-q1-draft.md" and md.media_type == "text/markdown"
    assert md.content.startswith("# Plans: 2027/Q1 (draft)\n") and "second *version*" in md.content
    assert "first *version*" not in md.content
    assert filename("???", "json") == "conversation.json"
    with pytest.raises(NotFound):
        await chat.export("someone else", [conv], "markdown")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b'{"hello": 1}', "not a streamchat export"),
        (b'{"format": "streamchat.conversations", "version": 1, "conversations": [{"title": ""}]}', "conversations.0"),
        (b"x" * (MAX_IMPORT_BYTES + 1), "too large"),
    ],
)
async def test_bad_files_say_why_and_import_nothing(
    fake_upstream: FakeUpstream, tmp_path: Path, data: bytes, says: str
) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    with pytest.raises(ChatError, match=says):
        await chat.import_conversations("me", data)
    assert await chat.conversations("me") == []


async def test_a_bad_conversation_late_in_a_file_imports_none_of_it(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat, conv, *_ = await two_versions(fake_upstream, tmp_path)
    doc = json.loads((await chat.export("me", [conv])).content)
    broken = json.loads(json.dumps(doc["conversations"][0]))
    broken["messages"][1]["reply_to"] = 2  # an answer replying to a later message
    doc["conversations"].append(broken)
    with pytest.raises(ChatError, match="Conversation 2: answer 1 replies to 2"):
        await chat.import_conversations("you", json.dumps(doc).encode())
    assert await chat.conversations("you") == []


async def test_a_streaming_answer_imports_as_interrupted(fake_upstream: FakeUpstream, tmp_path: Path) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    stamp = "2026-01-02T03:04:05+00:00"
    doc = {"format": "streamchat.conversations", "version": 1, "conversations": [{
        "title": "Half", "created_at": stamp, "updated_at": stamp, "messages": [
            {"id": 0, "role": "user", "content": "q", "created_at": stamp, "updated_at": stamp},
            {"id": 1, "role": "assistant", "content": "part", "status": "streaming", "reply_to": 0,
             "created_at": stamp, "updated_at": stamp}]}]}
    await chat.import_conversations("me", json.dumps(doc).encode())
    [conv] = await chat.conversations("me")
    _, messages = await chat.conversation("me", conv.id)
    assert [m.status for m in messages] == [Status.DONE, Status.INTERRUPTED]
    assert isinstance(conv, Conversation) and conv.updated_at.replace(tzinfo=UTC).year == 2026


async def test_branches_round_trip_and_old_files_import_as_one_line(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    chat = make_chat(tmp_path, openai_settings(fake_upstream))
    sent = await chat.send("me", None, "plan a trip")
    await finish(chat, "me", sent.assistant_message.id)
    conv = sent.conversation.id
    follow = await chat.send("me", conv, "to the sea")
    await finish(chat, "me", follow.assistant_message.id)
    edited = await chat.edit("me", sent.user_message.id, "plan a trip to the mountains")
    await finish(chat, "me", edited.assistant_message.id)
    await chat.pick("me", sent.user_message.id)  # the old branch on screen

    first = await chat.export("me", [conv])
    assert await chat.import_conversations("you", first.content.encode()) == 1
    [copy] = [c.id for c in await chat.conversations("you")]
    assert without_volatile((await chat.export("you", [copy])).content) == without_volatile(first.content)
    shown = [t.question.content for t in (await chat.thread("you", copy)).turns]
    assert shown == ["plan a trip", "to the sea"]  # the branch that was on screen, with its follow-up
    [turn, _] = (await chat.thread("you", copy)).turns
    assert [e.content for e in turn.edits] == ["plan a trip", "plan a trip to the mountains"]

    doc = json.loads(first.content)
    for m in doc["conversations"][0]["messages"]:
        m.pop("parent", None)  # a file from before branching
    doc["conversations"][0]["messages"] = [m for m in doc["conversations"][0]["messages"] if m["id"] < 4]
    assert await chat.import_conversations("old", json.dumps(doc).encode()) == 1
    [old] = [c.id for c in await chat.conversations("old")]
    assert [t.question.content for t in (await chat.thread("old", old)).turns] == ["plan a trip", "to the sea"]
