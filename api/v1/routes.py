"""`/api/v1`: conversations, sending (SSE, NDJSON or one JSON), resuming, stopping. Thin: every call
goes through `ChatService`; this module only speaks HTTP (see DESIGN.md, "HTTP API (contract)")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api.deps import key_owner
from api.problems import Problem, call, documented, of_chat_error, read_json
from api.v1.wire import NDJSON, PING_EVERY_S, SSE, STREAM_HEADERS, encode, until_done
from services.api_keys import ApiKeys
from services.chat import ChatError, ChatService, Sent
from services.events import usage_of
from services.models import Conversation, Message
from services.search import SearchHit

BODY_SLACK = 64 * 1024  # JSON around the content, and escapes (a "\n" is two bytes for one character)


def iso(moment: datetime) -> str:
    """SQLite hands back naive datetimes; every one we store is UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def message_json(msg: Message) -> dict[str, Any]:
    return {
        "id": msg.id,
        "conversation_id": msg.conversation_id,
        "role": str(msg.role),
        "content": msg.content,
        "status": str(msg.status),
        "reply_to": msg.reply_to,
        "parent_id": msg.parent_id,
        "model": msg.model,
        "finish_reason": msg.finish_reason,
        "error": msg.error,
        "usage": usage_of(msg.prompt_tokens, msg.completion_tokens),
        "ttft_ms": msg.ttft_ms,
        "duration_ms": msg.duration_ms,
        "created_at": iso(msg.created_at),
        "updated_at": iso(msg.updated_at),
    }


def conversation_json(conv: Conversation, messages: list[Message]) -> dict[str, Any]:
    return {
        "id": conv.id,
        "title": conv.title,
        "created_at": iso(conv.created_at),
        "updated_at": iso(conv.updated_at),
        "messages": [message_json(m) for m in messages],
    }


def hit_json(hit: SearchHit) -> dict[str, Any]:
    """`snippet` is plain text (never HTML); `highlights` are the `[start, end)` character spans in it
    that matched, `title_highlights` the same in `title`. `message_id` is null for a title-only match."""
    return {
        "conversation_id": hit.conversation_id,
        "title": hit.title,
        "message_id": hit.message_id,
        "role": hit.role,
        "snippet": hit.snippet.text,
        "highlights": [list(span) for span in hit.snippet.marks],
        "title_highlights": [list(span) for span in hit.title_marks],
    }


def stream_type(accept: str) -> str | None:
    """SSE unless the client asks for NDJSON or for one JSON response (None)."""
    accept = accept.lower()
    if SSE in accept:
        return SSE
    if NDJSON in accept:
        return NDJSON
    if "application/json" in accept:
        return None
    return SSE


def router(chat: ChatService, keys: ApiKeys) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["API v1"], responses=documented(401, 404, 409, 413, 422, 429, 503))
    owner_of = key_owner(keys)
    body_limit = chat.settings.max_message_chars * 8 + BODY_SLACK

    @r.get("/conversations", summary="List your conversations, newest first")
    async def list_conversations(owner: str = Depends(owner_of)) -> dict[str, Any]:
        convs = await call(chat.conversations(owner))
        return {"conversations": [{"id": c.id, "title": c.title, "updated_at": iso(c.updated_at)} for c in convs]}

    @r.get(
        "/search",
        summary="Search your conversations' titles and messages",
        description=(
            "`?q=` words (punctuation and operators are ignored; every word must occur, the last also as a "
            "prefix), `&limit=` 1-100 (default 20). Conversations whose title matches come first, newest "
            "first, then finished messages, best match first. Each result: `{conversation_id, title, "
            "message_id, role, snippet, highlights, title_highlights}`; `snippet` is plain text and "
            "`highlights` the `[start, end)` character offsets of the matches in it."
        ),
    )
    async def search(q: str = "", limit: int = 20, owner: str = Depends(owner_of)) -> dict[str, Any]:
        if not q.strip():
            raise Problem(422, "`q` must have something to search for.", "invalid_query")
        try:
            hits = await chat.search(owner, q, limit)
        except ChatError as exc:
            problem = of_chat_error(exc)
            problem.code = "invalid_query" if problem.status == 422 else problem.code
            raise problem from None
        return {"results": [hit_json(h) for h in hits]}

    @r.post(
        "/conversations",
        status_code=201,
        summary="Start a conversation",
        description='Body (optional): `{"title": "..."}`. Returns `{"id": ...}`.',
    )
    async def create_conversation(request: Request, owner: str = Depends(owner_of)) -> dict[str, str]:
        body = await read_json(request, BODY_SLACK, optional=True)
        title = body.get("title", "")
        if not isinstance(title, str):
            raise Problem(422, "`title` must be a string.", "invalid_title")
        conv = await call(chat.new_conversation(owner, title))
        return {"id": conv.id}

    @r.get("/conversations/{conversation_id}", summary="A conversation with its messages")
    async def get_conversation(conversation_id: str, owner: str = Depends(owner_of)) -> dict[str, Any]:
        conv, messages = await call(chat.conversation(owner, conversation_id))
        return conversation_json(conv, messages)

    @r.patch(
        "/conversations/{conversation_id}",
        summary="Rename or pin a conversation",
        description='Body: `{"title": "..."}` and/or `{"pinned": true}`. Returns the conversation without messages.',
    )
    async def update_conversation(
        conversation_id: str, request: Request, owner: str = Depends(owner_of)
    ) -> dict[str, Any]:
        body = await read_json(request, BODY_SLACK)
        title, pinned = body.get("title"), body.get("pinned")
        if title is not None and not isinstance(title, str):
            raise Problem(422, "`title` must be a string.", "invalid_title")
        if pinned is not None and not isinstance(pinned, bool):
            raise Problem(422, "`pinned` must be true or false.", "invalid_pinned")
        if title is not None:
            await call(chat.rename(owner, conversation_id, title))
        if pinned is not None:
            await call(chat.pin(owner, conversation_id, pinned))
        conv, _ = await call(chat.conversation(owner, conversation_id))
        return {"id": conv.id, "title": conv.title, "pinned": conv.pinned, "updated_at": iso(conv.updated_at)}

    @r.get(
        "/conversations/{conversation_id}/export",
        summary="Export a conversation as a file",
        description="`?format=json` (the default; what Settings → Import conversations reads) or `?format=markdown`.",
        responses={200: {"content": {"application/json": {}, "text/markdown": {}}}},
    )
    async def export_conversation(
        conversation_id: str, format: str = "json", owner: str = Depends(owner_of)
    ) -> Response:
        if format not in ("json", "markdown"):
            raise Problem(422, "`format` must be json or markdown.", "invalid_format")
        exported = await call(chat.export(owner, [conversation_id], format))
        ascii_name = exported.filename.encode("ascii", "replace").decode().replace("?", "_")
        disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(exported.filename)}"
        media_type = f"{exported.media_type}; charset=utf-8"
        return Response(exported.content, media_type=media_type, headers={"Content-Disposition": disposition})

    @r.delete(
        "/conversations/{conversation_id}",
        summary="Delete a conversation",
        description="Returns what was deleted. 409 while an answer is being generated in it: stop that first.",
    )
    async def delete_conversation(conversation_id: str, owner: str = Depends(owner_of)) -> dict[str, Any]:
        conv, messages = await call(chat.conversation(owner, conversation_id))
        await call(chat.delete_conversation(owner, conversation_id))
        return conversation_json(conv, messages)

    @r.post(
        "/conversations/{conversation_id}/messages",
        summary="Send a message and get the answer",
        description=(
            'Body: `{"content": "...", "stream": true}`. `Accept: text/event-stream` (the default) gives SSE: '
            "`message` `{message_id, conversation_id}`, then `delta` `{text}` with `id: <offset>` (characters "
            "of the answer so far), `status` `{phase, seconds?, detail?}`, and `done` "
            "`{status, error?, usage?, ttft_ms, duration_ms}`. `Accept: application/x-ndjson` gives the same objects "
            "as "
            'JSON lines with a `type` (deltas carry `offset`). `"stream": false` or `Accept: application/json` '
            "gives one `{message}` once the answer ended (the model is then asked without streaming). "
            "A client that disconnects only stops listening: the answer goes on and is saved."
        ),
        responses={200: {"content": {SSE: {}, NDJSON: {}}}},
    )
    async def send(
        conversation_id: str,
        request: Request,
        owner: str = Depends(owner_of),
        accept: str = Header(default="*/*"),
    ) -> Response:
        content, media_type = await asked(request, accept)
        sent = await call(chat.send(owner, conversation_id, content, stream=media_type is not None, create=False))
        return await answered(owner, sent, media_type)

    @r.post(
        "/messages/{message_id}/edit",
        summary="Edit a question: a new branch from that point, answered like a send",
        description='Body and answer as for sending: `{"content": "...", "stream": true}`. The question gets a new '
        "version (`parent_id` as the old one's); what followed the old version stays in its branch, which the "
        "conversation shows again if that version is picked. 404 for an answer's id or another user's.",
        responses={200: {"content": {SSE: {}, NDJSON: {}}}},
    )
    async def edit(
        message_id: int, request: Request, owner: str = Depends(owner_of), accept: str = Header(default="*/*")
    ) -> Response:
        content, media_type = await asked(request, accept)
        sent = await call(chat.edit(owner, message_id, content, stream=media_type is not None))
        return await answered(owner, sent, media_type)

    async def asked(request: Request, accept: str) -> tuple[str, str | None]:
        """The content, and the stream's media type (None: one JSON answer once it ended)."""
        body = await read_json(request, body_limit)
        content, stream = body.get("content"), body.get("stream", True)
        if not isinstance(content, str):
            raise Problem(422, "`content` must be a string.", "invalid_content")
        if not isinstance(stream, bool):
            raise Problem(422, "`stream` must be true or false.", "invalid_stream")
        return content, stream_type(accept) if stream else None

    async def answered(owner: str, sent: Sent, media_type: str | None) -> Response:
        message_id = sent.assistant_message.id
        assert message_id is not None
        events = await call(chat.subscribe(owner, message_id, idle_s=PING_EVERY_S if media_type else None))
        if media_type is None:
            await until_done(events)
            return JSONResponse({"message": message_json(await call(chat.answer(owner, message_id)))})
        first = {"type": "message", "message_id": message_id, "conversation_id": sent.conversation.id}
        return StreamingResponse(encode(first, events, media_type), media_type=media_type, headers=STREAM_HEADERS)

    @r.get(
        "/messages/{message_id}/stream",
        summary="Follow an answer, or resume after a disconnect",
        description=(
            "`Last-Event-ID: <offset>` (or `?after=<offset>`) replays the text after that many characters "
            "exactly once, then follows live; a finished answer replays and ends with `done`. SSE or NDJSON "
            "as for sending."
        ),
        responses={200: {"content": {SSE: {}, NDJSON: {}}}},
    )
    async def follow(
        message_id: int,
        owner: str = Depends(owner_of),
        accept: str = Header(default="*/*"),
        last_event_id: str = Header(default=""),
        after: int | None = None,
    ) -> Response:
        if last_event_id and not last_event_id.strip().isdigit():
            raise Problem(422, "Last-Event-ID must be a character offset (a whole number).", "invalid_offset")
        offset = int(last_event_id) if last_event_id else after or 0
        if offset < 0:
            raise Problem(422, "The offset cannot be negative.", "invalid_offset")
        answer = await call(chat.answer(owner, message_id, wait_s=0))  # 404 unless it is this owner's answer
        events = await call(chat.subscribe(owner, message_id, after=offset, idle_s=PING_EVERY_S))
        media_type = NDJSON if stream_type(accept) == NDJSON else SSE
        first = {"type": "message", "message_id": message_id, "conversation_id": answer.conversation_id}
        return StreamingResponse(encode(first, events, media_type), media_type=media_type, headers=STREAM_HEADERS)

    @r.post(
        "/messages/{message_id}/stop",
        status_code=202,
        summary="Stop an answer",
        description="Closes the request to the model, as the Stop button does. `stopping` is false when the "
        "answer had already ended.",
    )
    async def stop(message_id: int, owner: str = Depends(owner_of)) -> dict[str, Any]:
        stopping = chat.stop(owner, message_id)
        if not stopping:
            await call(chat.answer(owner, message_id, wait_s=0))  # 404 unless it exists and is this owner's
        return {"message_id": message_id, "stopping": stopping}

    return r
