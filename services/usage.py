"""Token usage per user per day (UTC), from the usage the model reported on each answer's row.

For the operator's `app.py usage`: no table of its own, one pass over the answers of the period,
streamed from the database (the day is cut in Python, so SQLite and PostgreSQL agree on UTC days).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from services.models import Message, Role, User


@dataclass(frozen=True)
class DayUsage:
    day: date
    owner: str
    answers: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_by_day(engine: Engine, since: datetime, owner: str | None = None) -> list[DayUsage]:
    """Answers started at or after `since`, summed per (UTC day, owner); only `owner`'s when given."""
    query = select(Message.owner, Message.created_at, Message.prompt_tokens, Message.completion_tokens).where(
        Message.role == Role.ASSISTANT, col(Message.created_at) >= since
    )
    if owner is not None:
        query = query.where(Message.owner == owner)
    sums: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    with Session(engine) as s:
        for who, created, prompt, completion in s.exec(query.execution_options(yield_per=1000)):
            row = sums[(created.date(), who)]
            row[0] += 1
            row[1] += prompt or 0
            row[2] += completion or 0
    return [DayUsage(day, who, *counts) for (day, who), counts in sorted(sums.items())]


def emails(engine: Engine) -> dict[str, str]:
    """Owner id → email for users who are rows (team modes); browser-mode owners have none."""
    with Session(engine) as s:
        return dict(s.exec(select(User.id, User.email)).all())


def table(rows: list[DayUsage], names: dict[str, str]) -> str:
    """A plain text table with a total line, aligned for a terminal."""
    head = ("day", "user", "answers", "prompt", "completion", "total")
    body = [
        (str(r.day), names.get(r.owner, r.owner), str(r.answers), str(r.prompt_tokens), str(r.completion_tokens),
         str(r.total))
        for r in rows
    ]  # fmt: skip
    sums = [sum(getattr(r, f) for r in rows) for f in ("answers", "prompt_tokens", "completion_tokens", "total")]
    lines = [head, *body, ("total", "", *map(str, sums))]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )
