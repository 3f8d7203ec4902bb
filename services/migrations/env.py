"""Alembic's entry point: migrates the connection `services.migrations.upgrade` passes in, or, from the
`alembic` command line, the database of the app's settings (DATABASE_URL or the data dir's SQLite file)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import services.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from services.dbtypes import CleanText, UtcDateTime
from services.migrations import is_model_object

target_metadata = SQLModel.metadata


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Our column types are written as plain SQLAlchemy types, so migrations never import app code."""
    if kind != "type":
        return False
    if isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, CleanText | AutoString):
        return "sa.String()"
    return False


def run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them: batch mode does that, PostgreSQL just alters
        render_item=render_item,
        compare_type=True,
        include_object=is_model_object,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:  # the alembic command line
    from services.migrations import foreign_keys_off
    from services.settings import Settings
    from services.store import make_engine

    engine = make_engine(Settings().resolved_database_url)
    with engine.connect() as conn, foreign_keys_off(conn), conn.begin():
        run(conn)
    engine.dispose()
