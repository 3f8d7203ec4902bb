"""The prompt sent upstream: system prompt plus as much recent history as the token budget allows."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from services.models import Message, Role

PER_MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    """About four characters a token for English; good enough to stay under a budget without a tokenizer."""
    return PER_MESSAGE_OVERHEAD + (len(text) + 3) // 4


def answer_versions(messages: list[Message]) -> dict[int, list[Message]]:
    """Every version of each question's answer, by question id, in the order given (oldest first)."""
    versions: dict[int, list[Message]] = {}
    for m in messages:
        if m.role == Role.ASSISTANT and m.reply_to is not None:
            versions.setdefault(m.reply_to, []).append(m)
    return versions


def question_versions(messages: list[Message]) -> dict[int | None, list[Message]]:
    """Every version of a question, by the question it follows (None: the first). An edit is a sibling."""
    versions: dict[int | None, list[Message]] = {}
    for m in messages:
        if m.role == Role.USER:
            versions.setdefault(m.parent_id, []).append(m)
    return versions


def _rank(pair: tuple[int, Message]) -> tuple[datetime, int, int]:
    i, m = pair
    return (m.picked_at or m.created_at, m.id or 0, i)


def shown_version(versions: list[Message], chosen: Collection[int] = ()) -> Message | None:
    """The version rule, for answers and questions alike: one the reader chose in `chosen`, else the one
    picked last (its `picked_at`, stored when the reader switches), else the newest."""
    if not versions:
        return None
    return next((v for v in versions if v.id in chosen), None) or max(enumerate(versions), key=_rank)[1]


def visible_history(messages: list[Message], chosen: Collection[int] = ()) -> list[Message]:
    """The thread rule: from the first question, the shown version of each question, then the shown
    version of its answer, then the shown version of the questions that follow it, to the end."""
    asks, answers = question_versions(messages), answer_versions(messages)
    path: list[Message] = []
    parent: int | None = None
    while (q := shown_version(asks.get(parent, []), chosen)) is not None and q.id is not None:
        path.append(q)
        if (a := shown_version(answers.get(q.id, []), chosen)) is not None:
            path.append(a)
        parent = q.id
    return path


def history_to(messages: list[Message], question_id: int) -> list[Message]:
    """What an answer to `question_id` is prompted with: the questions it follows (its branch, whether
    shown or not), each with its shown answer, and the question itself."""
    by_id = {m.id: m for m in messages}
    answers = answer_versions(messages)
    chain: list[Message] = []
    q = by_id.get(question_id)
    while q is not None:
        chain.append(q)
        q = by_id.get(q.parent_id) if q.parent_id is not None else None
    path: list[Message] = []
    for q in reversed(chain):
        path.append(q)
        if q.id != question_id and (a := shown_version(answers.get(q.id or 0, []))) is not None:
            path.append(a)
    return path


def build_prompt(system_prompt: str, history: list[Message], budget: int) -> list[dict[str, str]]:
    """Never drops the system prompt or the newest message; drops the oldest turns first.

    Empty rows (an answer that failed before its first token) are left out.
    """
    turns = [{"role": m.role, "content": m.content} for m in history if m.content]
    if not turns:
        return [{"role": Role.SYSTEM, "content": system_prompt}]
    newest, older = turns[-1], turns[:-1]
    used = estimate_tokens(system_prompt) + estimate_tokens(newest["content"])
    kept: list[dict[str, str]] = []
    for turn in reversed(older):
        cost = estimate_tokens(turn["content"])
        if used + cost > budget:
            break
        kept.append(turn)
        used += cost
    kept.reverse()
    # A history that starts with an assistant turn confuses some chat templates.
    while kept and kept[0]["role"] == Role.ASSISTANT:
        kept.pop(0)
    return [{"role": Role.SYSTEM, "content": system_prompt}, *kept, newest]
