"""How one conversation is answered: its system prompt, temperature, answer length and model.

A field left empty (None) means the app's default: `SYSTEM_PROMPT`, the provider's own temperature,
`MAX_ANSWER_TOKENS` (or no limit), the configured model. An owner's defaults for new conversations
are the same fields, copied into each conversation when it is made.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

MAX_SYSTEM_PROMPT_CHARS = 8_000
TEMPERATURE_RANGE = (0.0, 2.0)
STEERING_FIELDS = ("system_prompt", "temperature", "max_tokens", "model")


class SteeringError(ValueError):
    """A value the model server would refuse, or one that makes no sense; the message says which."""


@dataclass(frozen=True)
class Steering:
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    model: str | None = None

    @classmethod
    def of(cls, row: Any) -> Steering:
        """From any row with these fields (a conversation, an owner's defaults)."""
        return cls(**{f.name: getattr(row, f.name, None) for f in fields(cls)})

    def values(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def custom(self) -> bool:
        return any(v is not None for v in self.values().values())


def checked(steering: Steering, *, models: list[str], answer_cap: int) -> Steering:
    """Blank text becomes the default; anything out of range is refused with what is allowed."""
    prompt = steering.system_prompt
    if prompt is not None and not prompt.strip():
        prompt = None
    if prompt is not None and len(prompt) > MAX_SYSTEM_PROMPT_CHARS:
        raise SteeringError(
            f"The system prompt is {len(prompt):,} characters; the limit is {MAX_SYSTEM_PROMPT_CHARS:,}."
        )
    low, high = TEMPERATURE_RANGE
    if steering.temperature is not None and not low <= steering.temperature <= high:
        raise SteeringError(f"Temperature must be between {low:g} and {high:g}.")
    if steering.max_tokens is not None:
        if steering.max_tokens < 1:
            raise SteeringError("The maximum answer length must be at least 1 token.")
        if answer_cap and steering.max_tokens > answer_cap:
            raise SteeringError(f"The maximum answer length can be at most {answer_cap:,} tokens on this server.")
    model = steering.model or None
    if model is not None and model not in models:
        raise SteeringError(f"Unknown model {model!r}; choose one of: {', '.join(models)}.")
    return Steering(prompt, steering.temperature, steering.max_tokens, model)


def request_overrides(steering: Steering, token_limit_key: str) -> dict[str, Any]:
    """What this conversation changes in the request to the model server (the system prompt goes in
    the messages, see services/context.py)."""
    overrides: dict[str, Any] = {}
    if steering.model is not None:
        overrides["model"] = steering.model
    if steering.temperature is not None:
        overrides["temperature"] = steering.temperature
    if steering.max_tokens is not None:
        overrides[token_limit_key] = steering.max_tokens
    return overrides


def summary(steering: Steering) -> list[str]:
    """Short phrases a conversation shows under its title; empty when it uses the defaults."""
    parts = []
    if steering.system_prompt is not None:
        parts.append("Custom system prompt")
    if steering.temperature is not None:
        parts.append(f"Temperature {steering.temperature:g}")
    if steering.max_tokens is not None:
        parts.append(f"Answers up to {steering.max_tokens:,} tokens")
    if steering.model is not None:
        parts.append(steering.model)
    return parts
