"""Migrations on real databases: a file made before migrations keeps its data, later migrations apply,
and the models agree with the migrations (autogenerate would write nothing)."""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from services import migrations
from services.context import visible_history
from services.models import Status
from services.store import Store, close_database, make_engine

LEGACY_DDL = Path(__file__).with_name("legacy_schema.sql")

# A later migration the way the lead will write one (autogenerate renders SQLite changes in batch mode):
# SQLite rebuilds `message` (copy, drop, rename), which with foreign keys on would cascade to rendered_answer.
LATER = '''
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.alter_column("error", existing_type=sa.String(), nullable=True)  # SQLite: only by a rebuild


def downgrade():
    with op.batch_alter_table("message") as batch:
        batch.alter_column("error", existing_type=sa.String(), nullable=False)
        batch.drop_column("pinned")
'''


def legacy_file(path: Path) -> str:
    """A database as the code before migrations left it: its DDL, and rows in the format it wrote."""
    db = sqlite3.connect(path)
    db.executescript(LEGACY_DDL.read_text())
    at = "2026-11-21 10:00:00.123456"  # SQLAlchemy's SQLite DATETIME text: naive UTC
    db.execute("INSERT INTO conversation VALUES ('c1', 'alice', 'Old chat', ?, ?)", (at, at))
    db.execute(
        "INSERT INTO message VALUES (1, 'c1', 'alice', 'user', 'Hello?', 'done', NULL, '', '', '', NULL, NULL, NULL,"
        " ?, ?)",
        (at, at),
    )
    db.execute(
        "INSERT INTO message VALUES (2, 'c1', 'alice', 'assistant', 'Hi **there**', 'streaming', 1, 'gpt', '', '',"
        " 3, 2, 150, ?, ?)",
        (at, at),
    )
    db.execute("INSERT INTO rendered_answer VALUES (2, 'alice', 'r1', 'd1', '<p>Hi <strong>there</strong></p>')")
    db.execute("INSERT INTO api_key VALUES (1, 'alice', 'laptop', 'h4sh', 'sc-abc', ?, NULL, 0)", (at,))
    db.commit()
    db.close()
    return f"sqlite:///{path}"


def later_migration(tmp_path: Path) -> Config:
    """The app's migrations plus LATER in a versions dir of the test's own."""
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "9001_pinned.py").write_text(LATER.format(head=migrations.heads()[0]))
    cfg = migrations.config()
    cfg.set_main_option("version_locations", os.pathsep.join([str(migrations.SCRIPTS / "versions"), str(versions)]))
    return cfg


async def test_a_file_made_before_migrations_is_stamped_and_keeps_every_row(tmp_path: Path) -> None:
    url = legacy_file(tmp_path / "old.db")
    store = Store(url)  # start-up: stamp at the baseline, upgrade to head
    with store.engine.connect() as conn:
        assert migrations.current(conn) == migrations.heads()
    [conv] = await store.list_conversations("alice")
    assert conv.title == "Old chat" and conv.updated_at == datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)
    assert store.mark_streaming_interrupted() == 1
    q, a = await store.list_messages("alice", "c1")
    assert (q.content, a.content, a.reply_to, a.ttft_ms) == ("Hello?", "Hi **there**", 1, 150)
    assert a.status == Status.INTERRUPTED
    assert (await store.get_rendered("alice", [2]))[2].html == "<p>Hi <strong>there</strong></p>"
    new = await store.create_conversation("alice", "New chat")  # and it takes new rows next to the old
    assert [c.id for c in await store.list_conversations("alice")] == [new.id, "c1"]


async def test_a_later_migration_applies_to_a_stamped_file_without_losing_cached_html(tmp_path: Path) -> None:
    url = legacy_file(tmp_path / "old.db")
    Store(url)
    close_database(url)
    engine = Store(url).engine
    migrations.upgrade(engine, later_migration(tmp_path))
    with engine.connect() as conn:
        assert migrations.current(conn) == ("9001",)
        assert "pinned" in {c["name"] for c in inspect(conn).get_columns("message")}
        assert conn.execute(text("SELECT count(*) FROM message")).scalar() == 2
        assert conn.execute(text("SELECT html FROM rendered_answer")).scalar() == "<p>Hi <strong>there</strong></p>"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on for the app's own writes


async def test_later_migrations_apply_on_postgres_too(postgres_url: str, tmp_path: Path) -> None:
    store = Store(postgres_url)
    conv = await store.create_conversation("alice", "Kept")
    migrations.upgrade(store.engine, later_migration(tmp_path))
    with store.engine.connect() as conn:
        assert migrations.current(conn) == ("9001",)
    assert [c.title for c in await store.list_conversations("alice")] == [conv.title]


def test_models_and_migrations_agree(db_url: str) -> None:
    """Fails when services/models.py changed without a migration: `uv run alembic revision --autogenerate`."""
    engine = Store(db_url).engine
    # The search index is raw SQL on purpose (0006_search): ignored deliberately, as env.py does.
    opts = {"compare_type": True, "include_object": migrations.is_model_object}
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), SQLModel.metadata)
    assert diff == [], f"the models differ from the migrations at head; add a migration for: {diff}"


def test_a_file_with_only_some_tables_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "partial.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE conversation (id VARCHAR PRIMARY KEY)")
    db.execute("INSERT INTO conversation VALUES ('c1')")
    db.commit()
    db.close()
    with pytest.raises(migrations.SchemaError, match="but not message, rendered_answer, api_key"):
        Store(f"sqlite:///{path}")
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["conversation"]


def test_instances_starting_together_on_postgres_migrate_once(postgres_url: str) -> None:
    """Two processes' first start on an empty database: one creates the tables, the other waits, then sees head."""
    engines = [make_engine(postgres_url) for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(migrations.upgrade, engines))  # without the advisory lock: "relation already exists"
        with engines[0].connect() as conn:
            assert migrations.current(conn) == migrations.heads()
    finally:
        for engine in engines:
            engine.dispose()


async def test_threads_made_before_branching_are_the_same_visible_thread_after(tmp_path: Path) -> None:
    """0008 links every existing question to the one before it: nothing turns into a version."""
    url = f"sqlite:///{tmp_path / 'linear.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = migrations.config(conn)
        command.upgrade(cfg, "0007")
        at = "2026-11-21 10:00:00.000000"
        conn.execute(text("INSERT INTO conversation (id, owner, title, pinned, created_at, updated_at)"
                          " VALUES ('c1', 'alice', 'Trip', 0, :at, :at)"), {"at": at})
        rows = [(1, "user", "plan", None), (2, "assistant", "a1", 1), (3, "user", "sea", None),
                (4, "assistant", "a2", 3), (5, "assistant", "a2 again", 3), (6, "user", "June", None)]
        for mid, role, content, reply_to in rows:
            conn.execute(text("INSERT INTO message (id, conversation_id, owner, role, content, status, reply_to, model,"
                              " finish_reason, error, created_at, updated_at) VALUES (:id, 'c1', 'alice', :role,"
                              " :content, 'done', :reply_to, '', '', '', :at, :at)"),
                         {"id": mid, "role": role, "content": content, "reply_to": reply_to, "at": at})
    engine.dispose()
    store = Store(url)  # start-up upgrades to head
    messages = await store.list_messages("alice", "c1")
    assert {m.id: m.parent_id for m in messages if m.role == "user"} == {1: None, 3: 1, 6: 3}
    assert [m.content for m in visible_history(messages)] == ["plan", "a1", "sea", "a2 again", "June"]
