"""The e2e harness finds every traceback in an app log, so a test that caused one fails."""

from __future__ import annotations

from pathlib import Path

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
