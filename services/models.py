"""SQLModel tables: conversations and their messages, each row owned by one user."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Status(StrEnum):
    """What a message is doing; the page shows it and tests read it from `data-status`."""

    STREAMING = "streaming"
    DONE = "done"
    STOPPED = "stopped"
    ERROR = "error"
    FILTERED = "filtered"
    INTERRUPTED = "interrupted"


FINAL_STATUSES = frozenset({Status.DONE, Status.STOPPED, Status.ERROR, Status.FILTERED, Status.INTERRUPTED})


class Conversation(SQLModel, table=True):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    owner: str = Field(index=True)
    title: str = "New chat"
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    owner: str = Field(index=True)
    role: str  # "user" | "assistant"
    content: str = ""
    status: str = Status.DONE
    # An assistant message answers one user message; regenerated answers share it (versions).
    reply_to: int | None = Field(default=None, index=True)
    model: str = ""
    finish_reason: str = ""
    error: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
