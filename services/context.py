"""The prompt sent upstream: system prompt plus as much recent history as the token budget allows."""

from __future__ import annotations

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


def shown_version(versions: list[Message], chosen: int | None = None) -> Message | None:
    """The answer-version rule: the version the reader chose, else the newest (regenerations replace)."""
    return next((v for v in versions if v.id == chosen), versions[-1]) if versions else None


def visible_history(messages: list[Message]) -> list[Message]:
    """What the user sees by default: each question, then the shown version of its answer."""
    shown = {id(shown_version(v)) for v in answer_versions(messages).values()}
    return [m for m in messages if m.role == Role.USER or id(m) in shown]


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
