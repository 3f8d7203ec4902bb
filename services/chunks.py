"""Reading what the model said, chunk by chunk: text, refusals, tool calls, filter verdicts.

Chunks arrive as parsed JSON (see services/sse.py), unvalidated, so a chunk can carry a number
where text belongs, or a lone UTF-16 surrogate that later breaks the sanitizer and SQLite. Whatever
can be shown is coerced here; anything else raises `MalformedChunk` (a dict lookup on a list, say,
is turned into one by the caller), so the answer ends with a clear error.
"""

from __future__ import annotations

import re
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


def count(value: object) -> int | None:
    """A token count as reported in `usage`, or None when it is anything but a whole number."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def flagged_categories(choice: dict[str, Any]) -> list[str]:
    """Azure's per-choice verdicts, e.g. {"violence": {"filtered": true, "severity": "medium"}}."""
    results = choice.get("content_filter_results")
    if not isinstance(results, dict):
        return []
    return [name.replace("_", " ") for name, v in results.items() if isinstance(v, dict) and v.get("filtered")]


@dataclass(frozen=True)
class Ending:
    """How the model ended an answer, and what it said besides text."""

    finish_reason: str = ""  # empty: the answer never said it was complete
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    refused: bool = False  # the text is the model's refusal
    tools: tuple[str, ...] = ()  # functions the model asked us to call
    flagged: tuple[str, ...] = ()  # content-filter categories, also ones flagged after the last text


@dataclass
class AnswerReader:
    """Collects one answer from streamed chunks or a whole completion: each call returns the text
    it found, and `ending()` the rest."""

    finish_reason: str = ""
    usage: dict[str, Any] | None = None
    refused: bool = False
    tools: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)

    def chunk(self, chunk: dict[str, Any]) -> str:
        """Azure sends chunks with no choices (prompt filter, usage) and choices with no delta."""
        return self._parts(chunk, "delta")

    def completion(self, result: dict[str, Any]) -> str:
        """A non-streamed answer: the same parts, in `message` instead of `delta`."""
        return self._parts(result, "message")

    def ending(self) -> Ending:
        usage = self.usage or {}
        return Ending(
            self.finish_reason,
            count(usage.get("prompt_tokens")),
            count(usage.get("completion_tokens")),
            self.refused,
            tuple(self.tools),
            tuple(self.flagged),
        )

    def _parts(self, body: dict[str, Any], key: str) -> str:
        usage = body.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
        text = ""
        for choice in body.get("choices") or ():
            part = choice.get(key)
            if part is not None:
                text += self._part(part)
            for name in flagged_categories(choice):
                if name not in self.flagged:
                    self.flagged.append(name)
            if choice.get("finish_reason"):
                self.finish_reason = as_text(choice["finish_reason"])
        return text

    def _part(self, part: dict[str, Any]) -> str:
        text = as_text(part.get("content"))
        refusal = as_text(part.get("refusal"))
        if refusal:
            self.refused = True
            text += refusal
        calls = part.get("tool_calls") or ()
        legacy = part.get("function_call")  # the deprecated single-function form
        for function in [c.get("function") for c in calls] + [legacy]:
            name = as_text((function or {}).get("name"))
            if name and name not in self.tools:
                self.tools.append(name)
        return text
