"""The prompt sent upstream: system prompt plus as much recent history as the token budget allows."""

from __future__ import annotations

from services.models import Message, Role

PER_MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    """About four characters a token for English; good enough to stay under a budget without a tokenizer."""
    return PER_MESSAGE_OVERHEAD + (len(text) + 3) // 4


def visible_history(messages: list[Message]) -> list[Message]:
    """What the user sees: each question, then the newest version of its answer (regenerations replace)."""
    latest: dict[int, Message] = {}
    for m in messages:
        if m.role == Role.ASSISTANT and m.reply_to is not None:
            latest[m.reply_to] = m
    return [m for m in messages if m.role == Role.USER or (m.reply_to is not None and latest.get(m.reply_to) is m)]


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
