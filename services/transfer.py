"""Conversations as files: the JSON export that import reads back, and a Markdown copy for people.

The JSON carries everything a conversation is made of (every version of every answer, with its
status, model, usage and timestamps), so export → import → export gives the same content. Message
ids in the file are positions within their conversation, so they survive the round trip too.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from services.context import visible_history
from services.models import Conversation, Message, Role, Status
from services.steering import MAX_SYSTEM_PROMPT_CHARS, TEMPERATURE_RANGE, Steering

FORMAT = "streamchat.conversations"
VERSION = 1
MAX_IMPORT_BYTES = 20 * 1024 * 1024  # the upload is refused above this, before it is parsed
MAX_TITLE_CHARS = 200
MAX_CONTENT_CHARS = 1_000_000


class BadImport(ValueError):
    """A file we cannot import, with a message fit to show as is."""


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a newer export with more fields still imports


class Usage(_Part):
    """Token counts as the chat completions API reports them in its usage object."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ExportedMessage(_Part):
    id: int = Field(ge=0)  # the position in its conversation
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_CONTENT_CHARS)
    status: Status = Status.DONE
    reply_to: int | None = Field(default=None, ge=0)  # the position of the question an answer replies to
    parent: int | None = Field(default=None, ge=0)  # a question's: the position of the question it follows
    picked_at: UtcDatetime | None = None  # when the reader last switched to this version
    model: str = ""
    finish_reason: str = ""
    error: str = ""
    usage: Usage = Usage()
    ttft_ms: int | None = None  # time to the first token
    duration_ms: int | None = None  # from the request to the end
    created_at: UtcDatetime
    updated_at: UtcDatetime


class ExportedSteering(_Part):
    """A conversation's own settings (services/steering.py); absent: the defaults."""

    system_prompt: str | None = Field(default=None, max_length=MAX_SYSTEM_PROMPT_CHARS)
    temperature: float | None = Field(default=None, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])
    max_tokens: int | None = Field(default=None, ge=1)
    model: str | None = None


class ExportedConversation(_Part):
    id: str = ""
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    pinned: bool = False
    settings: ExportedSteering | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    messages: list[ExportedMessage]


class ExportFile(_Part):
    format: Literal["streamchat.conversations"]
    version: Literal[1]
    exported_at: UtcDatetime | None = None
    conversations: list[ExportedConversation]


def to_exported(conv: Conversation, messages: list[Message]) -> ExportedConversation:
    position = {m.id: i for i, m in enumerate(messages)}
    return ExportedConversation(
        id=conv.id,
        title=conv.title,
        pinned=conv.pinned,
        settings=ExportedSteering(**steering.values()) if (steering := Steering.of(conv)).custom else None,
        created_at=conv.created_at,
        updated_at=conv.updated_at,
        messages=[
            ExportedMessage(
                id=i,
                role=Role(m.role).value,  # type: ignore[arg-type]
                content=m.content,
                status=Status(m.status),
                reply_to=position.get(m.reply_to) if m.reply_to is not None else None,
                parent=position.get(m.parent_id) if m.parent_id is not None else None,
                picked_at=m.picked_at,
                model=m.model,
                finish_reason=m.finish_reason,
                error=m.error,
                usage=Usage(prompt_tokens=m.prompt_tokens, completion_tokens=m.completion_tokens),
                ttft_ms=m.ttft_ms,
                duration_ms=m.duration_ms,
                created_at=m.created_at,
                updated_at=m.updated_at,
            )
            for i, m in enumerate(messages)
        ],
    )


def export_json(conversations: list[ExportedConversation], now: datetime) -> str:
    doc = ExportFile(format=FORMAT, version=VERSION, exported_at=now, conversations=conversations)
    return json.dumps(doc.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def export_markdown(conv: Conversation, messages: list[Message]) -> str:
    """What a reader sees: the title, then each question and the answer version shown."""
    parts = [f"# {conv.title}\n"]
    for m in visible_history(messages):
        who = "You" if m.role == Role.USER else f"Assistant{f' ({m.model})' if m.model else ''}"
        note = "" if m.status == Status.DONE else f" · {m.status}"
        parts.append(f"## {who}{note}\n\n{m.content.strip()}\n")
    return "\n".join(parts)


def filename(title: str, suffix: str) -> str:
    """A file name from the title: words joined by dashes, safe on every system."""
    stem = re.sub(r"[^\w]+", "-", title.casefold()).strip("-_")[:60].rstrip("-_")
    return f"{stem or 'conversation'}.{suffix}"


def parse_import(data: bytes) -> list[tuple[Conversation, list[Message]]]:
    """The rows to create from an export file; raises `BadImport` saying what is wrong, before any write."""
    if len(data) > MAX_IMPORT_BYTES:
        raise BadImport(f"The file is too large to import (the limit is {MAX_IMPORT_BYTES // 2**20} MB).")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadImport("The file is not JSON. Choose a file made with Export → JSON.") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BadImport("The file is JSON but not a streamchat export. Choose a file made with Export → JSON.")
    try:
        doc = ExportFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadImport(f"The file is not a valid streamchat export ({where}: {first['msg']}).") from None
    return [_rows(c, n) for n, c in enumerate(doc.conversations, start=1)]


def _rows(conv: ExportedConversation, n: int) -> tuple[Conversation, list[Message]]:
    """Links come in as positions in the list (the store maps them to the new ids). A file from before
    branching has no `parent`: each question then follows the one before it, as it did then."""
    messages: list[Message] = []
    branched = any("parent" in m.model_fields_set for m in conv.messages if m.role == "user")
    previous: int | None = None
    for i, m in enumerate(conv.messages):
        if m.id != i:
            raise BadImport(f"Conversation {n}: message ids must count up from 0; message {i} has id {m.id}.")
        question = m.reply_to is not None and m.reply_to < i and conv.messages[m.reply_to].role == "user"
        if m.role == "assistant" and m.reply_to is not None and not question:
            raise BadImport(f"Conversation {n}: answer {i} replies to {m.reply_to}, not an earlier question.")
        follows = m.parent is not None and m.parent < i and conv.messages[m.parent].role == "user"
        if m.role == "user" and m.parent is not None and not follows:
            raise BadImport(f"Conversation {n}: question {i} follows {m.parent}, not an earlier question.")
        status = Status.INTERRUPTED if m.status == Status.STREAMING else m.status  # nothing runs it here
        fields = m.model_dump(exclude={"id", "status", "usage", "parent"}) | m.usage.model_dump()
        if m.role == "user":
            fields["reply_to"] = None
            fields["parent_id"] = m.parent if branched else previous
            previous = i
        messages.append(Message(conversation_id="", owner="", status=status, **fields))
    steering = conv.settings.model_dump() if conv.settings is not None else {}
    row = Conversation(owner="", title=conv.title, pinned=conv.pinned, created_at=conv.created_at, **steering)
    row.updated_at = conv.updated_at
    return row, messages
