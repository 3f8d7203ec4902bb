"""SQLModel tables: conversations and their messages, each row owned by one user."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, ForeignKey, Integer, false
from sqlmodel import Field, SQLModel

from services.dbtypes import CleanText, UtcDateTime

UNTITLED = "New chat"  # a conversation's title until its first message names it

# The note a refused answer is saved with; pages show it as a "Declined" badge.
REFUSAL_NOTE = "The model refused this request; the text above is its reply."


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    """Who wrote a message; the same words as the chat completions API (and `data-role`)."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class Phase(StrEnum):
    """Where a running answer is, shown under it until it ends with a final `Status`."""

    CONNECTING = "connecting"  # the request is on its way
    WAITING = "waiting"  # the model server took it; no token yet
    STREAMING = "streaming"  # tokens are arriving
    RETRYING = "retrying"  # rate limited or the server is unavailable: waiting to ask again


class Status(StrEnum):
    """What a message is doing; the page shows it and tests read it from `data-status`."""

    STREAMING = "streaming"
    DONE = "done"
    STOPPED = "stopped"
    ERROR = "error"
    FILTERED = "filtered"
    INTERRUPTED = "interrupted"

    @property
    def final(self) -> bool:
        """Every status but streaming is an end: the answer's text will not change again."""
        return self is not Status.STREAMING


class Conversation(SQLModel, table=True):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    owner: str = Field(index=True)
    title: str = Field(default=UNTITLED, sa_type=CleanText)
    # Pinned conversations lead the sidebar. The server default lets the migration add the column to
    # tables that already have rows.
    pinned: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UtcDateTime)
    # How this conversation is answered (services/steering.py); None is the app's default for that field.
    system_prompt: str | None = Field(default=None, sa_type=CleanText)
    temperature: float | None = None
    max_tokens: int | None = None
    model: str | None = Field(default=None, sa_type=CleanText)


class ChatDefaults(SQLModel, table=True):
    """An owner's settings for new conversations, copied into each one as it is made: changing them
    later does not change how older conversations are answered."""

    __tablename__ = "chat_defaults"

    owner: str = Field(primary_key=True)
    system_prompt: str | None = Field(default=None, sa_type=CleanText)
    temperature: float | None = None
    max_tokens: int | None = None
    model: str | None = Field(default=None, sa_type=CleanText)


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True)
    owner: str = Field(index=True)
    role: str  # a Role
    content: str = Field(default="", sa_type=CleanText)
    status: str = Status.DONE  # a Status
    # An assistant message answers one user message; regenerated answers share it (versions).
    reply_to: int | None = Field(default=None, index=True)
    # A user message follows the question before it in its branch (None: the first question); versions
    # of a question (edits) share it. Answers leave it None: they hang off `reply_to`.
    parent_id: int | None = Field(default=None, index=True)
    # When the reader last switched to this version: the shown one survives a reload (services/context.py).
    picked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    model: str = Field(default="", sa_type=CleanText)
    finish_reason: str = Field(default="", sa_type=CleanText)
    error: str = Field(default="", sa_type=CleanText)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: int | None = None
    duration_ms: int | None = None  # from the request to the end of the answer
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class RenderedAnswer(SQLModel, table=True):
    """A finished answer's sanitized HTML, kept so opening a thread does not parse its markdown again.

    A table of its own rather than a column on `message`: it came before migrations, when `create_all`
    could add tables to an existing file but never columns. A row is used only while both the renderer
    version and the digest of the message's text still match."""

    __tablename__ = "rendered_answer"

    message_id: int = Field(sa_column=Column(Integer, ForeignKey("message.id", ondelete="CASCADE"), primary_key=True))
    owner: str = Field(index=True)
    renderer: str  # services.rendered.RENDERER_VERSION when the HTML was made
    digest: str  # of the markdown source the HTML was made from
    html: str = Field(sa_type=CleanText)


class ApiKey(SQLModel, table=True):
    """A key for the HTTP API and the /v1 gateway. Only its SHA-256 is kept: a copied database
    file gives no usable key. `prefix` (the first characters) lets its owner tell keys apart."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True)
    name: str = Field(default="", sa_type=CleanText)
    key_hash: str = Field(index=True, unique=True)
    prefix: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked: bool = False


class User(SQLModel, table=True):
    """A person signed in by a proxy header or OIDC (AUTH_MODE header|oidc). `id` is what rows are owned
    by: it stays when the email changes. `subject` is the OIDC `iss|sub` (None until a first OIDC sign-in,
    e.g. for a user made by `claim` or in header mode). Browser mode has no rows: owners are cookie ids."""

    __tablename__ = "user_account"  # `user` is a reserved word in PostgreSQL

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, primary_key=True)
    email: str = Field(index=True, unique=True, sa_type=CleanText)  # lower-cased
    name: str = Field(default="", sa_type=CleanText)
    subject: str | None = Field(default=None, index=True, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ShareLink(SQLModel, table=True):
    """A read-only link to one conversation for anyone signed in to the same deployment (team modes).

    The token is kept as it is, not hashed like an API key: it opens only a conversation that the same
    database already holds, and its owner can copy the link again. Revoking deletes the row."""

    __tablename__ = "share_link"

    token: str = Field(primary_key=True)
    conversation_id: str = Field(index=True, unique=True)  # one link per conversation
    owner: str = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
