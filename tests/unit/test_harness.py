"""The e2e harness finds every traceback in an app log, so a test that caused one fails."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from services.logs import JsonFormatter
from tests.conftest import AppServer

LOG = """\
INFO ok
Traceback (most recent call last):
  File "nicegui/page.py", line 186, in wait_for_result
    return await result
ValueError: list.remove(x): x not in list
INFO streamchat: still serving
ERROR nicegui: boom
Traceback (most recent call last):
  File "components/chat_page.py", line 202, in _catch_up

    self.thread.clear()
RuntimeError: The client this element belongs to has been deleted.
"""


def test_tracebacks_are_cut_at_their_exception_line(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(LOG)
    found = AppServer({}, tmp_path, log).tracebacks()
    assert [tb.splitlines()[-1] for tb in found] == [
        "ValueError: list.remove(x): x not in list",
        "RuntimeError: The client this element belongs to has been deleted.",
    ]
    assert "still serving" not in found[0]


def test_clean_log_has_no_tracebacks(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("INFO answering with fake-model\nWARNING an identity cookie failed its signature check\n")
    assert AppServer({}, tmp_path, log).tracebacks() == []


def test_tracebacks_in_json_logs_are_found(tmp_path: Path) -> None:
    """LOG_FORMAT=json puts a traceback on one line, in the entry's "exc" field: still a failure."""
    try:
        raise RuntimeError("boom in a json log")
    except RuntimeError:
        record = logging.LogRecord("streamchat", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    log = tmp_path / "app.log"
    ok = logging.LogRecord("streamchat", logging.INFO, __file__, 1, "all fine", None, None)
    log.write_text(f"{JsonFormatter().format(ok)}\n{JsonFormatter().format(record)}\n")
    found = AppServer({}, tmp_path, log).tracebacks()
    assert len(found) == 1 and found[0].splitlines()[-1] == "RuntimeError: boom in a json log"
