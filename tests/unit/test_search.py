"""Full-text search: the store on a real SQLite file and a real PostgreSQL database, and the snippets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from services import migrations, transfer
from services.models import Message, Status
from services.search import Query, snippet
from services.store import Store, make_engine


async def add(store: Store, owner: str, conversation_id: str, content: str, **values: object) -> int:
    row = await store.add_message(
        Message(conversation_id=conversation_id, owner=owner, role="assistant", content=content, **values)
    )
    assert row.id is not None
    return row.id


async def found(store: Store, owner: str, query: str) -> list[int | None]:
    return [h.message_id for h in await store.search(owner, Query.parse(query))]


async def test_messages_are_found_by_their_words_best_match_first(db_url: str) -> None:
    store = Store(db_url)
    conv = await store.create_conversation("alice", "Cooking")
    long = await add(store, "alice", conv.id, "A long answer " + "about many other things " * 30 + "and pesto once.")
    dense = await add(store, "alice", conv.id, "Pesto: basil pesto, the best pesto.")
    await add(store, "alice", conv.id, "Nothing relevant here.")
    assert await found(store, "alice", "pesto") == [dense, long]
    assert await found(store, "alice", "PESTO basil") == [dense]  # every word, any case


async def test_only_the_owners_messages_and_titles_are_found(db_url: str) -> None:
    store = Store(db_url)
    mine = await store.create_conversation("alice", "Secret plans")
    theirs = await store.create_conversation("bob", "Secret plans too")
    await add(store, "alice", mine.id, "the launch code is zebra")
    bob_id = await add(store, "bob", theirs.id, "zebra crossing")
    assert await found(store, "bob", "zebra") == [bob_id]
    hits = await store.search("bob", Query.parse("secret"))
    assert [(h.conversation_id, h.message_id) for h in hits] == [(theirs.id, None)]


async def test_the_last_word_matches_as_a_prefix_while_typing(db_url: str) -> None:
    store = Store(db_url)
    conv = await store.create_conversation("o")
    mid = await add(store, "o", conv.id, "Kubernetes deployments roll out gradually")
    assert await found(store, "o", "kuber") == [mid]
    assert await found(store, "o", "kuber deploy") == []  # only the last word is a prefix
    assert await found(store, "o", "kubernetes deploy") == [mid]


@pytest.mark.parametrize(
    ("query", "hit"),
    [('"unbalanced', False), ("pesto*", True), ('"pesto" AND pasta', True), ("-pesto", True), ("NOT pesto", False),
     ("pesto OR (", False), ("pesto:*", True), ("pesto & | !", True), ("NEAR(pesto)", False), ("\\pesto", True),
     ("pesto^", True), ("{pesto}", True), ("'; DROP TABLE message; --", False), ("col:pesto", False)],
)
async def test_query_syntax_is_never_an_error_only_words(db_url: str, query: str, hit: bool) -> None:
    """Operators are words like any other: `AND` must occur in the text, `-` excludes nothing."""
    store = Store(db_url)
    conv = await store.create_conversation("o")
    mid = await add(store, "o", conv.id, "Pesto goes with pasta and more.")
    assert await found(store, "o", query) == ([mid] if hit else [])
    with store.engine.connect() as conn:  # and the nastiest input changed nothing
        assert conn.execute(text("SELECT count(*) FROM message")).scalar() == 1


async def test_unicode_accents_cjk_and_emoji(db_url: str) -> None:
    store = Store(db_url)
    conv = await store.create_conversation("o")
    accents = await add(store, "o", conv.id, "Un café crème, s'il vous plaît")
    cjk = await add(store, "o", conv.id, "昨日は東京タワーに行きました")
    emoji = await add(store, "o", conv.id, "Party time 🎉 tonight")
    assert await found(store, "o", "café") == [accents]
    assert await found(store, "o", "crème") == [accents]
    assert await found(store, "o", "東京") == [cjk]
    assert await found(store, "o", "タワー") == [cjk]  # inside a run of CJK text
    assert await found(store, "o", "🎉") == [emoji]


async def test_accents_are_ignored_on_sqlite(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    conv = await store.create_conversation("o")
    mid = await add(store, "o", conv.id, "Un café crème")
    assert await found(store, "o", "cafe creme") == [mid]


async def test_deleted_conversations_are_gone_and_imported_ones_found(db_url: str) -> None:
    store = Store(db_url)
    gone = await store.create_conversation("o", "Temporary")
    await add(store, "o", gone.id, "ephemeral walrus")
    assert await store.delete_conversation("o", gone.id)
    assert await found(store, "o", "walrus") == []
    assert await found(store, "o", "temporary") == []
    source = await store.create_conversation("elsewhere", "Trip")
    await add(store, "elsewhere", source.id, "Narwhals live in Arctic waters.")
    exported = transfer.export_json(
        [transfer.to_exported(source, await store.list_messages("elsewhere", source.id))], datetime.now(UTC)
    )
    [cid] = await store.import_conversations("o", transfer.parse_import(exported.encode()))
    hits = await store.search("o", Query.parse("narwhals"))
    assert [(h.conversation_id, h.title) for h in hits] == [(cid, "Trip")]


async def test_rows_already_there_are_indexed_by_the_migration(db_url: str) -> None:
    engine = make_engine(db_url)
    now = {"t": datetime.now(UTC).replace(tzinfo=None)}
    with engine.begin() as conn:
        command.upgrade(migrations.config(conn), "0004")  # the schema before search
        conn.execute(text("INSERT INTO conversation VALUES ('c1', 'o', 'Old', :t, :t, false)"), now)
        for status in ("done", "streaming"):
            conn.execute(
                text(
                    "INSERT INTO message (conversation_id, owner, role, content, status, model, finish_reason, "
                    "error, created_at, updated_at) VALUES ('c1', 'o', 'assistant', :c, :s, '', '', '', :t, :t)"
                ),
                {**now, "c": f"an okapi answer, {status}", "s": status},
            )
    engine.dispose()
    store = Store(db_url)  # migrates to head
    hits = await store.search("o", Query.parse("okapi"))
    assert [h.snippet.text for h in hits] == ["an okapi answer, done"]  # a streaming row waits until it ends


async def test_a_streaming_answer_is_found_once_it_ends_and_not_while_retried(db_url: str) -> None:
    store = Store(db_url)
    conv = await store.create_conversation("o")
    mid = await add(store, "o", conv.id, "", status=Status.STREAMING)
    await store.checkpoint_messages([("o", mid, "the platypus is")])
    assert await found(store, "o", "platypus") == []  # not indexed while it streams
    await store.finish_message("o", mid, content="the platypus is a mammal", status=Status.DONE)
    assert await found(store, "o", "platypus mammal") == [mid]
    await store.update_message("o", mid, content="", status=Status.STREAMING)  # Retry
    assert await found(store, "o", "platypus") == []
    await store.finish_message("o", mid, content="an echidna", status=Status.DONE)
    assert await found(store, "o", "platypus") == [] and await found(store, "o", "echidna") == [mid]


async def test_titles_match_first_with_their_words_marked(db_url: str) -> None:
    store = Store(db_url)
    conv = await store.create_conversation("o", "Rust lifetimes")
    mid = await add(store, "o", conv.id, "Lifetimes tie references to scopes.")
    hits = await store.search("o", Query.parse("lifetimes"))
    assert [(h.message_id, h.title) for h in hits] == [(None, "Rust lifetimes"), (mid, "Rust lifetimes")]
    assert hits[0].title_marks == ((5, 14),) and hits[1].snippet.marks == ((0, 9),)


def test_snippet_is_cut_around_the_first_match_with_every_match_marked() -> None:
    body = "word " * 60 + "the <b>needle</b> & another needle" + " tail" * 40
    cut = snippet(body, Query.parse("needle"))
    assert cut.text.startswith("…") and cut.text.endswith("…") and len(cut.text) <= 125
    assert [cut.text[a:b] for a, b in cut.marks] == ["needle", "needle"]
    assert "<b>" in cut.text  # plain text: the page escapes it before marking


def test_snippet_marks_accented_and_prefix_words_in_the_original_text() -> None:
    cut = snippet("Un CAFÉ crème naïvement", Query.parse("cafe naiv"))
    assert [cut.text[a:b] for a, b in cut.marks] == ["CAFÉ", "naïvement"]


def test_a_query_is_words_never_syntax() -> None:
    assert Query.parse('"pesto" AND -basil*').fts5() == '"pesto" "AND" "basil"*'
    assert Query.parse("it's").tsquery() == "'it' & 's':*"
    assert not Query.parse("*** -- ()")
    assert Query.parse("東京 🎉").substring
