"""Schema migrations (Alembic), run at start-up on SQLite and PostgreSQL alike; they replace `create_all`.

A database made by `create_all` before migrations existed has the baseline's tables but no
`alembic_version`: it is stamped at the baseline, then upgraded like any other. Add a migration after
changing services/models.py with `uv run alembic revision --autogenerate -m "what changed"` (see the
README); tests/unit/test_migrations.py fails while the models and the migrations disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

SCRIPTS = Path(__file__).resolve().parent
BASELINE = "0001"
# What `create_all` made before migrations existed; the baseline migration creates exactly these.
BASELINE_TABLES = ("conversation", "message", "rendered_answer", "api_key")
# Search indexes made by raw SQL in 0006_search, not by models: FTS5's table and its shadow tables, and
# PostgreSQL's generated column and its index. Autogenerate and the models-agree check must not see them
# as removed.
SEARCH_TABLE = "message_fts"
SEARCH_COLUMN = "search_vector"
SEARCH_INDEX = "ix_message_search"
_PG_LOCK = 0x5C_DB_0001  # advisory lock: one instance migrates at a time, the others wait, then see head


class SchemaError(ValueError):
    """The database cannot be brought to the schema this code needs; the message says why (app.py turns a
    ValueError at start-up into that message and an exit, without a traceback)."""


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an alembic.ini; `connection` is the one env.py migrates."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["connection"] = connection
    return cfg


@cache
def heads() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(config()).get_heads())


def is_model_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's `include_object`: False for the search index's tables, column and index, which no model
    describes."""
    if type_ == "table" and name is not None and name.startswith(SEARCH_TABLE):
        return False
    return not (type_ == "index" and name == SEARCH_INDEX) and not (type_ == "column" and name == SEARCH_COLUMN)


def current(connection: Connection) -> tuple[str, ...]:
    return tuple(MigrationContext.configure(connection).get_current_heads())


def upgrade(engine: Engine, cfg: Config | None = None) -> None:
    """Bring the database to head (a `cfg` may add version locations: tests do)."""
    with engine.connect() as conn, foreign_keys_off(conn), conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        cfg = cfg or config()
        cfg.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables:
            present = [t for t in BASELINE_TABLES if t in tables]
            if len(present) == len(BASELINE_TABLES):
                log.info("database made before migrations: stamping it at the baseline %s", BASELINE)
                command.stamp(cfg, BASELINE)
            elif present:
                missing = ", ".join(t for t in BASELINE_TABLES if t not in tables)
                raise SchemaError(
                    f"the database has some of streamchat's tables but not {missing}, and no migration history; "
                    "it was not made by a version of streamchat this one can upgrade"
                )
        before = current(conn)
        command.upgrade(cfg, "head")
        after = current(conn)
        if after != before:
            log.info("database schema upgraded from %s to %s", ", ".join(before) or "nothing", ", ".join(after))


@contextmanager
def foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite alters a table by copying it and dropping the old one; with foreign keys on, that drop
    would cascade (deleting every cached HTML row when `message` is rebuilt). Off while migrating,
    checked after, and back on before the connection returns to the pool. The pragma only takes
    effect outside a transaction: enter this before the migration's transaction, leave it after."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()  # ends SQLAlchemy's autobegun transaction (SQLite began none), so the caller can begin
    try:
        yield
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise SchemaError(f"a migration left {len(broken)} row(s) pointing at rows that do not exist")
    finally:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()
