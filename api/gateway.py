"""An OpenAI-compatible gateway: `POST /v1/chat/completions` and `GET /v1/models`, with streamchat keys.

The official SDKs, curl and existing tools use the server's model (the team's Azure deployment,
with the server's keyless credential) while holding only a streamchat key. The caller's messages are
the prompt, as given; the answer runs through `ChatService` like any other, and is kept as a
conversation of the key's owner unless the request says `"store": false`. The one model is the
server's: a request's `model` is accepted whatever it says, and sampling options are the server's.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api.deps import key_owner
from api.problems import Problem, documented, of_chat_error, read_json
from api.v1.wire import PING_EVERY_S, SSE, STREAM_HEADERS, dumps, until_done
from services.api_keys import ApiKeys
from services.chat import ChatError, ChatService, Started
from services.events import AnswerEvent, Delta, Done, Snapshot
from services.models import Status

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
FINISH = {Status.FILTERED: "content_filter"}  # else the model's own finish reason, or "stop"
ENDED_BADLY = {Status.ERROR, Status.INTERRUPTED}


def normalize(messages: Any) -> list[dict[str, str]]:
    """Text conversations only: content as a string or a list of text parts; 422 for anything else."""
    if not isinstance(messages, list) or not messages:
        raise Problem(422, "`messages` must be a non-empty list.", "invalid_messages")
    out: list[dict[str, str]] = []
    for i, m in enumerate(messages):
        role = ROLES.get(m.get("role")) if isinstance(m, dict) else None
        if role is None:
            raise Problem(422, f"messages[{i}]: role must be one of {', '.join(ROLES)}.", "invalid_messages")
        content = m.get("content")
        if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
            content = "".join(str(p.get("text", "")) for p in content)
        if content is None and role == "assistant":
            content = ""
        if not isinstance(content, str):
            raise Problem(422, f"messages[{i}]: only text content is supported.", "invalid_messages")
        out.append({"role": role, "content": content})
    return out


def finish_reason(done: Done) -> str:
    return FINISH.get(Status(done.status), "") or done.finish_reason or "stop"


def failure(done: Done) -> Problem:
    return Problem(502, done.error or f"The answer ended as {done.status}.", "upstream_error")


class Completion:
    """One request's identity on the wire: the same id, time and model on every chunk."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def whole(self, text: str, done: Done) -> dict[str, Any]:
        message = {"role": "assistant", "content": text, "refusal": None}
        choice = {"index": 0, "message": message, "finish_reason": finish_reason(done), "logprobs": None}
        return {**self.head("chat.completion"), "choices": [choice], "usage": done.usage}

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return self._data({**self.head("chat.completion.chunk"), "choices": [choice]})

    def usage(self, done: Done) -> bytes:
        return self._data({**self.head("chat.completion.chunk"), "choices": [], "usage": done.usage})

    def error(self, error: dict[str, Any]) -> bytes:
        """OpenAI's in-stream error event (the SDK raises it as an APIError)."""
        return self._data({"error": error})

    @staticmethod
    def _data(obj: dict[str, Any]) -> bytes:
        return f"data: {dumps(obj)}\n\n".encode()


async def first_text_or_end(events: AsyncIterator[AnswerEvent | None]) -> AnswerEvent:
    """Hold the response until the answer has text or has ended, so a failure before the first
    token is an HTTP error (as from OpenAI) rather than a broken stream."""
    async for event in events:
        if isinstance(event, Done) or (isinstance(event, Snapshot | Delta) and event.text):
            return event
    raise RuntimeError("the answer's events ended without `done`")


async def chunks(
    completion: Completion,
    first: AnswerEvent,
    events: AsyncIterator[AnswerEvent | None],
    include_usage: bool,
    stop: Any,
) -> AsyncIterator[bytes]:
    """OpenAI's chunk stream; `stop()` runs if the client leaves before the end (unstored answers)."""
    ended = False
    try:
        yield completion.chunk({"role": "assistant", "content": ""})
        async for event in _prepend(first, events):
            if event is None:
                yield b": ping\n\n"
            elif isinstance(event, Snapshot | Delta) and event.text:
                yield completion.chunk({"content": event.text})
            elif isinstance(event, Done):
                ended = True
                if Status(event.status) in ENDED_BADLY:
                    error = {"message": event.error or "The answer failed.", "type": "api_error", "code": None}
                    yield completion.error(error)
                    return
                yield completion.chunk({}, finish_reason(event))
                if include_usage:
                    yield completion.usage(event)
                yield b"data: [DONE]\n\n"
                return
    finally:
        if not ended:
            stop()


async def _prepend(first: AnswerEvent, rest: AsyncIterator[AnswerEvent | None]) -> AsyncIterator[AnswerEvent | None]:
    async with contextlib.aclosing(rest):  # type: ignore[type-var]
        yield first
        async for event in rest:
            yield event


def router(chat: ChatService, keys: ApiKeys, model: str) -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["OpenAI-compatible gateway"], responses=documented(401, 413, 422, 429, 502, 503))
    owner_of = key_owner(keys)
    body_limit = max(1 << 20, chat.settings.max_message_chars * 32)

    @r.get("/models", summary="The model this server answers with")
    async def models(owner: str = Depends(owner_of)) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model, "object": "model", "created": 0, "owned_by": "streamchat"}]}

    @r.post(
        "/chat/completions",
        summary="Chat completion, streamed or not (OpenAI's format)",
        description=(
            "OpenAI's request and response: `messages` (text), `stream`, `stream_options.include_usage`; "
            '`"store": false` keeps the exchange out of your conversations (and stops the answer if the '
            "client leaves). Other options (model, temperature, …) are the server's."
        ),
        responses={200: {"content": {SSE: {}}}},
    )
    async def completions(request: Request, owner: str = Depends(owner_of)) -> Response:
        body = await read_json(request, body_limit)
        messages = normalize(body.get("messages"))
        stream, store = body.get("stream", False), body.get("store", True)
        options = body.get("stream_options") or {}
        if not isinstance(stream, bool) or not isinstance(store, bool) or not isinstance(options, dict):
            raise Problem(422, "`stream` and `store` must be true or false.", "invalid_request")
        try:
            started: Started = await chat.complete(owner, messages, stream=stream, store=store)
            events = await chat.subscribe(owner, started.message_id, idle_s=PING_EVERY_S if stream else None)
        except ChatError as exc:
            raise of_chat_error(exc) from None
        completion = Completion(model)
        headers = {"X-Streamchat-Conversation": started.conversation_id} if started.conversation_id else {}
        if not stream:
            text, done = await until_done(events)
            if Status(done.status) in ENDED_BADLY:
                raise failure(done)
            return JSONResponse(completion.whole(text, done), headers=headers)
        first = await first_text_or_end(events)
        if isinstance(first, Done) and Status(first.status) in ENDED_BADLY:
            await events.aclose()  # type: ignore[attr-defined]
            raise failure(first)

        def stop() -> None:
            if not store:
                chat.stop(owner, started.message_id)

        body_iter = chunks(completion, first, events, bool(options.get("include_usage")), stop)
        return StreamingResponse(body_iter, media_type=SSE, headers={**STREAM_HEADERS, **headers})

    return r
