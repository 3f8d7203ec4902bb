"""Column types that make SQLite and PostgreSQL store the same values.

`UtcDateTime`: SQLite keeps no time zone and PostgreSQL converts to the session's; both hand back
aware UTC datetimes here, and both store UTC (`timestamptz` on PostgreSQL).
`CleanText`: PostgreSQL rejects NUL characters in text (a model or a pasted file can send one), so
NUL becomes U+FFFD on every write, on both databases. Replaced, not stripped: CommonMark already
shows NUL as U+FFFD, so the page looks the same, and the text keeps its length in characters, which
the stream offsets (`Last-Event-ID`) and the "only ever longer" checkpoint rely on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NUL = "\x00"
REPLACEMENT = "\ufffd"


def clean_text(value: str) -> str:
    return value.replace(NUL, REPLACEMENT) if NUL in value else value


class CleanText(TypeDecorator[str]):
    """Text from users and models: NUL stored as U+FFFD."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return clean_text(value) if isinstance(value, str) else value


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in and out; a naive value is taken to be UTC already (as older rows were written)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, datetime):
            return value
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # SQLite compares the stored strings: keep them naive UTC, as the rows written before this type.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, datetime):
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
