"""Reading what the model said, chunk by chunk: text, refusals, tool calls, filter verdicts.

The SDK builds its objects without validating them, so a chunk can carry a number where text
belongs, or a lone UTF-16 surrogate that later breaks the sanitizer and SQLite. Whatever can be
shown is coerced here; anything else raises `MalformedChunk`, so the answer ends with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.errors import MalformedChunk

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def as_text(value: object) -> str:
    """None → "", numbers → their digits, lone surrogates → U+FFFD; anything else is malformed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise MalformedChunk()


def flagged_categories(choice: object) -> list[str]:
    """Azure's per-choice verdicts, e.g. {"violence": {"filtered": true, "severity": "medium"}}."""
    results = getattr(choice, "content_filter_results", None)
    if not isinstance(results, dict):
        return []
    return [name.replace("_", " ") for name, v in results.items() if isinstance(v, dict) and v.get("filtered")]


@dataclass
class AnswerReader:
    """Collects one answer from streamed chunks or a whole completion; text goes to `on_text`."""

    on_text: Callable[[str], None]
    finish_reason: str = ""
    usage: Any = None
    refused: bool = False
    tools: list[str] = field(default_factory=list)  # functions the model asked us to call
    flagged: list[str] = field(default_factory=list)  # content-filter categories, also late ones

    def chunk(self, chunk: Any) -> None:
        """Azure sends chunks with no choices (prompt filter, usage) and choices with no delta."""
        if getattr(chunk, "usage", None):
            self.usage = chunk.usage
        for choice in chunk.choices or []:
            self._choice(choice, getattr(choice, "delta", None))

    def completion(self, result: Any) -> None:
        """A non-streamed answer: the same parts, in `message` instead of `delta`."""
        self.usage = result.usage
        for choice in result.choices or []:
            self._choice(choice, getattr(choice, "message", None))

    def _choice(self, choice: Any, part: Any) -> None:
        if part is not None:
            self._part(part)
        for name in flagged_categories(choice):
            if name not in self.flagged:
                self.flagged.append(name)
        if choice.finish_reason:
            self.finish_reason = as_text(choice.finish_reason)

    def _part(self, part: Any) -> None:
        self.on_text(as_text(getattr(part, "content", None)))
        refusal = as_text(getattr(part, "refusal", None))
        if refusal:
            self.refused = True
            self.on_text(refusal)
        calls = list(getattr(part, "tool_calls", None) or [])
        legacy = getattr(part, "function_call", None)  # the deprecated single-function form
        for function in [getattr(c, "function", None) for c in calls] + [legacy]:
            name = as_text(getattr(function, "name", None))
            if name and name not in self.tools:
                self.tools.append(name)
