"""The store against a real SQLite file: owner scoping, ordering, crash recovery."""

from __future__ import annotations

from pathlib import Path

from services.models import Message, Status
from services.store import Store


async def test_queries_are_scoped_to_their_owner(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    mine = await store.create_conversation("alice", "Alice's chat")
    await store.add_message(Message(conversation_id=mine.id, owner="alice", role="user", content="secret"))
    assert await store.get_conversation("bob", mine.id) is None
    assert await store.list_conversations("bob") == []
    assert await store.list_messages("bob", mine.id) == []
    msg = (await store.list_messages("alice", mine.id))[0]
    assert await store.get_message("bob", msg.id or 0) is None
    await store.update_message("bob", msg.id or 0, content="overwritten")
    assert (await store.get_message("alice", msg.id or 0)).content == "secret"


async def test_conversations_newest_first_and_searchable(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    first = await store.create_conversation("o", "Pasta recipes")
    second = await store.create_conversation("o", "Rust lifetimes")
    assert [c.id for c in await store.list_conversations("o")] == [second.id, first.id]
    await store.touch_conversation("o", first.id)
    assert [c.id for c in await store.list_conversations("o")] == [first.id, second.id]
    assert [c.title for c in await store.list_conversations("o", "rust")] == ["Rust lifetimes"]


async def test_streaming_rows_become_interrupted_on_restart_keeping_their_text(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = Store(url)
    conv = await store.create_conversation("o")
    row = await store.add_message(
        Message(conversation_id=conv.id, owner="o", role="assistant", content="partial", status=Status.STREAMING)
    )
    store.engine.dispose()
    restarted = Store(url)
    assert restarted.mark_streaming_interrupted() == 1
    again = await restarted.get_message("o", row.id or 0)
    assert again.status == Status.INTERRUPTED and again.content == "partial"


async def test_answer_writes_never_go_back_to_an_older_text_or_status(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    conv = await store.create_conversation("o")
    row = await store.add_message(
        Message(conversation_id=conv.id, owner="o", role="assistant", status=Status.STREAMING)
    )
    answer = row.id or 0
    assert await store.checkpoint_message("o", answer, "one two")
    assert not await store.checkpoint_message("o", answer, "one")  # a late, shorter checkpoint
    assert await store.finish_message("o", answer, content="one two three", status=Status.DONE)
    assert not await store.checkpoint_message("o", answer, "one two three four")  # in flight before the end
    assert not await store.finish_message("o", answer, content="", status=Status.STOPPED)  # written once
    again = await store.get_message("o", answer)
    assert (again.content, again.status) == ("one two three", Status.DONE)
