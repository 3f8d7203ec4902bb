"""`app.py usage`: tokens per user per UTC day, from the answers' rows, scoped to one user when asked."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from services.models import Conversation, Message, Role
from services.store import Store
from services.usage import DayUsage, table, usage_by_day
from tests.conftest import REPO_ROOT

NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
TODAY, YESTERDAY = NOW.date(), (NOW - timedelta(days=1)).date()


def seed(url: str) -> Store:
    """alice: two answers yesterday (one a minute before midnight UTC), one today, one a month ago;
    bob: one today; a user message and an answer without usage count no tokens."""
    store = Store(url)
    midnight = NOW.replace(hour=0)
    rows = [
        ("alice", midnight - timedelta(minutes=1), 10, 20),
        ("alice", midnight - timedelta(hours=5), 1, 2),
        ("alice", midnight + timedelta(minutes=1), 100, 200),
        ("alice", NOW - timedelta(days=30), 5000, 5000),
        ("bob", NOW, 7, 8),
        ("bob", NOW, None, None),  # stopped before the usage chunk
    ]
    with Session(store.engine) as s:
        convs = {who: Conversation(owner=who, title="t") for who in ("alice", "bob")}
        s.add_all(convs.values())
        s.flush()
        for who, at, prompt, completion in rows:
            s.add(Message(conversation_id=convs[who].id, owner=who, role=Role.ASSISTANT, created_at=at,
                          prompt_tokens=prompt, completion_tokens=completion))
        s.add(Message(conversation_id=convs["bob"].id, owner="bob", role=Role.USER, content="hi", created_at=NOW))
        s.commit()
    return store


def test_usage_is_summed_per_utc_day_and_user(db_url: str) -> None:
    store = seed(db_url)
    since = NOW.replace(hour=0) - timedelta(days=1)
    assert usage_by_day(store.engine, since) == [
        DayUsage(YESTERDAY, "alice", 2, 11, 22),
        DayUsage(TODAY, "alice", 1, 100, 200),
        DayUsage(TODAY, "bob", 2, 7, 8),
    ]
    assert usage_by_day(store.engine, since, owner="bob") == [DayUsage(TODAY, "bob", 2, 7, 8)]


def test_the_table_names_users_by_email_and_ends_with_a_total() -> None:
    rows = [DayUsage(TODAY, "u1", 2, 11, 22), DayUsage(TODAY, "browser-id", 1, 100, 200)]
    lines = table(rows, {"u1": "ann@example.com"}).splitlines()
    assert lines[0].split() == ["day", "user", "answers", "prompt", "completion", "total"]
    assert lines[1].split() == [str(TODAY), "ann@example.com", "2", "11", "22", "33"]
    assert lines[2].split() == [str(TODAY), "browser-id", "1", "100", "200", "300"]
    assert lines[-1].split() == ["total", "3", "111", "222", "333"]


def test_the_usage_command_prints_one_users_days(tmp_path: Path) -> None:
    seed(f"sqlite:///{tmp_path / 'streamchat.db'}").engine.dispose()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"STREAMCHAT_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "app.py", "usage", "--days", "2", "--user", "alice"], cwd=REPO_ROOT,
                         env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    assert [line.split()[0] for line in out.splitlines()] == ["day", str(YESTERDAY), str(TODAY), "total"]
    assert out.splitlines()[-1].split() == ["total", "3", "111", "222", "333"]
    assert "bob" not in out
