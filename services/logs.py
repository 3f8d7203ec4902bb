"""Logging set-up that keeps credentials out of the log.

httpx logs every request URL at INFO, and a base URL may carry `user:password@`; the filter
rewrites that part of any record, whichever library logged it, before a handler writes it.
"""

from __future__ import annotations

import logging
import re

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


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactUserinfo())
    # Alembic's INFO lines on every start (plugins, "Context impl") say nothing; services.migrations logs upgrades.
    logging.getLogger("alembic").setLevel(logging.WARNING)
