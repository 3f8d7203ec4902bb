"""The line under a finished answer: which model, how soon it started, how fast it went, what it cost."""

from __future__ import annotations

from nicegui import ui

from services.models import Message


def tokens_per_second(message: Message) -> float | None:
    """Answer tokens over the time they took to arrive (the wait for the first one is not counted)."""
    tokens, total, first = message.completion_tokens, message.duration_ms, message.ttft_ms
    if not tokens or total is None or first is None or total <= first:
        return None
    return tokens / ((total - first) / 1000)


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.2f} s" if ms < 10_000 else f"{ms / 1000:.0f} s"


class AnswerMeta(ui.label):
    """Short on the page; the details (prompt and answer tokens, total time, finish reason) in its tooltip."""

    def __init__(self) -> None:
        super().__init__("")
        self.classes("msg-meta").props("data-testid=answer-meta")
        with self:
            self.details = ui.tooltip("")

    def show(self, message: Message) -> None:
        parts, details = [message.model] if message.model else [], []
        if message.ttft_ms is not None:
            parts.append(f"first token {_seconds(message.ttft_ms)}")
        rate = tokens_per_second(message)
        if rate is not None:
            parts.append(f"{rate:.0f} tokens/s")
        if message.prompt_tokens is not None or message.completion_tokens is not None:
            prompt, answer = message.prompt_tokens or 0, message.completion_tokens or 0
            parts.append(f"{prompt + answer:,} tokens")
            details.append(f"Prompt {prompt:,} tokens, answer {answer:,} tokens.")
        if message.duration_ms is not None:
            details.append(f"{_seconds(message.duration_ms)} from the request to the end.")
        if message.finish_reason:
            details.append(f"Finish reason: {message.finish_reason}.")
        self.text = " · ".join(parts)
        self.details.text = " ".join(details)
        self.set_visibility(bool(parts))
        self.details.set_visibility(bool(details))
