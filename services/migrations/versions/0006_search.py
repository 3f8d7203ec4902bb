"""Full-text search over messages: an FTS5 index on SQLite, a GIN index on PostgreSQL.

Only final messages are indexed: a streaming answer rewrites its text every second, and indexing each
of those checkpoints would re-index the whole answer again and again; it is indexed once it ends.
SQLite: `message_fts`, an external-content FTS5 table (it keeps only the index; snippets read the text
from `message`), kept in step by triggers, so every writer (the app, imports, the CLI) keeps it right.
A later migration that makes SQLite rebuild `message` (batch mode copying the table) drops these
triggers with the old table and must create them again. PostgreSQL: a generated column
`message.search_vector` (`to_tsvector('simple', content)` once final, NULL while streaming) with a GIN
index. Neither is in the models: services.migrations.is_model_object tells autogenerate to leave them
alone. Rows already there are indexed here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FINAL = "status != 'streaming'"
SQLITE = [
    "CREATE VIRTUAL TABLE message_fts USING fts5(content, content='message', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    f"INSERT INTO message_fts(rowid, content) SELECT id, content FROM message WHERE {FINAL}",
    f"""CREATE TRIGGER message_fts_insert AFTER INSERT ON message WHEN new.{FINAL} BEGIN
        INSERT INTO message_fts(rowid, content) VALUES (new.id, new.content);
    END""",
    f"""CREATE TRIGGER message_fts_delete AFTER DELETE ON message WHEN old.{FINAL} BEGIN
        INSERT INTO message_fts(message_fts, rowid, content) VALUES ('delete', old.id, old.content);
    END""",
    # A checkpoint (streaming before and after) skips both statements; an answer that ends is indexed
    # once; a retry (final back to streaming) leaves the index until it ends again.
    f"""CREATE TRIGGER message_fts_update AFTER UPDATE OF content, status ON message
    WHEN old.{FINAL} OR new.{FINAL} BEGIN
        INSERT INTO message_fts(message_fts, rowid, content) SELECT 'delete', old.id, old.content WHERE old.{FINAL};
        INSERT INTO message_fts(rowid, content) SELECT new.id, new.content WHERE new.{FINAL};
    END""",
]
# A stored column rather than an expression index, measured (bench/search.py): ranking re-parsed every
# candidate's text with an expression index (86 ms for 300 candidates); the stored vector is read instead.
# NULL while streaming, so a checkpoint computes nothing.
POSTGRES = [
    f"ALTER TABLE message ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    f"(CASE WHEN {FINAL} THEN to_tsvector('simple'::regconfig, content) END) STORED",
    "CREATE INDEX ix_message_search ON message USING gin (search_vector)",
]


def upgrade() -> None:
    """Other databases get no index: the store searches them by substring."""
    for statement in {"sqlite": SQLITE, "postgresql": POSTGRES}.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER message_fts_{trigger}")
        op.execute("DROP TABLE message_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX ix_message_search")
        op.execute("ALTER TABLE message DROP COLUMN search_vector")
