"""The store against a real SQLite file and a real PostgreSQL database: owner scoping, ordering, crash recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import create_engine, make_url, text, update
from sqlmodel import Session

from services.models import Conversation, Message, Status
from services.store import Store


async def test_queries_are_scoped_to_their_owner(db_url: str) -> None:
    store = Store(db_url)
    mine = await store.create_conversation("alice", "Alice's chat")
    await store.add_message(Message(conversation_id=mine.id, owner="alice", role="user", content="secret"))
    assert await store.get_conversation("bob", mine.id) is None
    assert await store.list_conversations("bob") == []
    assert await store.list_messages("bob", mine.id) == []
    msg = (await store.list_messages("alice", mine.id))[0]
    assert await store.get_message("bob", msg.id or 0) is None
    await store.update_message("bob", msg.id or 0, content="overwritten")
    assert (await store.get_message("alice", msg.id or 0)).content == "secret"


async def test_conversations_newest_first_and_searchable(db_url: str) -> None:
    store = Store(db_url)
    first = await store.create_conversation("o", "Pasta recipes")
    second = await store.create_conversation("o", "Rust lifetimes")
    assert [c.id for c in await store.list_conversations("o")] == [second.id, first.id]
    await store.start_turn("o", first.id, "and pesto?", title="", model="m", create=False)  # a new message
    assert [c.id for c in await store.list_conversations("o")] == [first.id, second.id]
    assert [c.title for c in await store.list_conversations("o", "rust")] == ["Rust lifetimes"]


async def test_streaming_rows_become_interrupted_on_restart_keeping_their_text(db_url: str) -> None:
    url = db_url
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


async def test_answer_writes_never_go_back_to_an_older_text_or_status(db_url: str) -> None:
    store = Store(db_url)
    conv = await store.create_conversation("o")
    row = await store.add_message(
        Message(conversation_id=conv.id, owner="o", role="assistant", status=Status.STREAMING)
    )
    answer = row.id or 0
    assert await store.checkpoint_messages([("o", answer, "one two")]) == 1
    assert await store.checkpoint_messages([("o", answer, "one")]) == 0  # a late, shorter checkpoint
    assert await store.checkpoint_messages([("bob", answer, "one two three")]) == 0  # not bob's
    assert await store.finish_message("o", answer, content="one two three", status=Status.DONE)
    assert await store.checkpoint_messages([("o", answer, "one two three four")]) == 0  # in flight before the end
    assert not await store.finish_message("o", answer, content="", status=Status.STOPPED)  # written once
    again = await store.get_message("o", answer)
    assert (again.content, again.status) == ("one two three", Status.DONE)


async def test_turns_are_read_newest_page_first_with_every_answer_version(db_url: str) -> None:
    store = Store(db_url)
    conv = await store.create_conversation("o")
    other = await store.create_conversation("o")
    questions: list[Message] = []
    for i in range(5):
        parent = questions[-1].id if questions else None
        q = await store.add_message(
            Message(conversation_id=conv.id, owner="o", role="user", content=f"q{i}", parent_id=parent)
        )
        await store.add_message(Message(conversation_id=other.id, owner="o", role="user", content="elsewhere"))
        await store.add_message(
            Message(conversation_id=conv.id, owner="o", role="assistant", content=f"a{i}", reply_to=q.id)
        )
        questions.append(q)
    # a regenerated answer to q3 comes later than everything else
    await store.add_message(
        Message(conversation_id=conv.id, owner="o", role="assistant", content="a3 v2", reply_to=questions[3].id)
    )

    newest, more = await store.list_turns("o", conv.id, limit=2)
    assert [m.content for m in newest] == ["q3", "a3", "q4", "a4", "a3 v2"] and more
    older, more = await store.list_turns("o", conv.id, limit=2, before=questions[3].id)
    assert [m.content for m in older] == ["q1", "a1", "q2", "a2"] and more
    oldest, more = await store.list_turns("o", conv.id, limit=2, before=questions[1].id)
    assert [m.content for m in oldest] == ["q0", "a0"] and not more
    since, more = await store.list_turns("o", conv.id, since=questions[2].id)
    assert [m.content for m in since] == ["q2", "a2", "q3", "a3", "q4", "a4", "a3 v2"] and more
    assert await store.list_turns("bob", conv.id, limit=2) == ([], False)


async def test_a_page_is_bounded_by_text_but_always_holds_one_turn(db_url: str) -> None:
    store = Store(db_url)
    conv = await store.create_conversation("o")
    q = None
    for i, size in enumerate([10, 10, 5_000, 100, 100]):
        parent = q.id if q else None
        q = await store.add_message(
            Message(conversation_id=conv.id, owner="o", role="user", content=f"q{i}", parent_id=parent)
        )
        await store.add_message(
            Message(conversation_id=conv.id, owner="o", role="assistant", content="x" * size, reply_to=q.id)
        )
    page, more = await store.list_turns("o", conv.id, limit=20, max_chars=1_000)
    assert [m.content for m in page if m.role == "user"] == ["q3", "q4"] and more
    first = page[0].id or 0
    page, more = await store.list_turns("o", conv.id, limit=20, max_chars=1_000, before=first)
    assert [m.content for m in page if m.role == "user"] == ["q2"] and more  # larger than the budget alone


async def test_times_come_back_as_the_same_instant_in_utc(db_url: str) -> None:
    if db_url.startswith("postgresql"):  # a server whose sessions are not in UTC must not shift times
        with create_engine(db_url).connect() as conn:
            conn.execute(text(f"ALTER DATABASE {make_url(db_url).database} SET TIME ZONE 'Asia/Kolkata'"))
            conn.commit()
    store = Store(db_url)
    at = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    conv = await store.create_conversation("o")
    await store.add_message(Message(conversation_id=conv.id, owner="o", role="user", content="q", created_at=at))
    [row] = await store.list_messages("o", conv.id)
    assert row.created_at == at and row.created_at.utcoffset() == timedelta(0)


async def test_title_search_ignores_case_and_takes_wildcards_literally(db_url: str) -> None:
    store = Store(db_url)
    for title in ("Budget 50% cut", "Budget 50 cut", "snake_case names", "snakeXcase"):
        await store.create_conversation("o", title)
    assert [c.title for c in await store.list_conversations("o", "BUDGET 50%")] == ["Budget 50% cut"]
    assert [c.title for c in await store.list_conversations("o", "E_C")] == ["snake_case names"]


async def test_conversations_updated_at_the_same_instant_keep_one_order(db_url: str) -> None:
    store = Store(db_url)
    made = [await store.create_conversation("o", f"c{i}") for i in range(3)]
    same = datetime(2026, 1, 1, tzinfo=UTC)
    with Session(store.engine) as s:
        s.execute(update(Conversation).values(updated_at=same))
        s.commit()
    assert [c.id for c in await store.list_conversations("o")] == [c.id for c in reversed(made)]


async def test_a_turn_is_written_whole_in_its_owners_conversation_only(db_url: str) -> None:
    store = Store(db_url)
    conv = await store.create_conversation("alice", "Alice's chat")
    assert await store.start_turn("bob", conv.id, "mine now?", title="t", model="m", create=False) is None
    assert await store.list_messages("alice", conv.id) == []  # nothing written for bob
    mine, question, answer, thread = await store.start_turn("alice", conv.id, "hi", title="t", model="m", create=False)
    assert mine.id == conv.id and mine.title == "Alice's chat"
    assert (question.role, question.content) == ("user", "hi")
    assert (answer.role, answer.status, answer.model) == ("assistant", Status.STREAMING, "m")
    assert answer.reply_to == question.id
    assert [m.id for m in thread] == [question.id, answer.id]
    fresh, *_ = await store.start_turn("bob", conv.id, "hello", title="Bob's", model="m", create=True)
    assert fresh.id != conv.id and fresh.owner == "bob" and fresh.title == "Bob's"
    assert [m.content for m in await store.list_messages("alice", conv.id)] == ["hi", ""]
