"""Logging set-up that keeps credentials out of the log.

httpx logs every request URL at INFO, and a base URL may carry `user:password@`; the filter
rewrites that part of any record, whichever library logged it, before a handler writes it.

`LOG_FORMAT=json` writes one JSON object per line for log collectors, with the ids of the user,
conversation and message the line is about (`log_context`, set where a request or an answer
starts), never the text of a message: no log call passes message content.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def redact(text: str) -> str:
    return _USERINFO.sub("***@", text)


class RedactUserinfo(logging.Filter):
    """Formats the record once and stores the redacted text, so the handler cannot print the secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:  # a traceback can quote the URL too
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_ids: ContextVar[dict[str, str | int]] = ContextVar("streamchat_log_ids", default={})  # noqa: B039 (never mutated)


@contextlib.contextmanager
def log_context(**ids: str | int | None) -> Iterator[None]:
    """Ids added to every JSON line logged inside, and inside any task started inside (asyncio
    copies the context into a new task, so an answer's task keeps its ids to the end)."""
    token = _ids.set({**_ids.get(), **{k: v for k, v in ids.items() if v is not None and v != ""}})
    try:
        yield
    finally:
        _ids.reset(token)


def bind(**ids: str | int) -> None:
    """Ids for the rest of the current request (a task of its own, so they end with it)."""
    _ids.set({**_ids.get(), **ids})


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the ids in context, and the traceback (redacted) if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_ids.get(),
        }
        if record.exc_info:
            entry["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str = "text") -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactUserinfo())
    # Alembic's INFO lines on every start (plugins, "Context impl") say nothing; services.migrations logs upgrades.
    logging.getLogger("alembic").setLevel(logging.WARNING)
