"""Share links over HTTP: make or revoke a conversation's read-only link, and read what a link opens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from api.deps import key_owner
from api.problems import call, documented, of_chat_error
from api.v1.routes import message_json
from services.api_keys import ApiKeys
from services.chat import ChatService, NotFound


def link_url(request: Request, token: str) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}/share/{token}"


def router(chat: ChatService, keys: ApiKeys) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["API v1"], responses=documented(401, 404, 422))
    owner_of = key_owner(keys)

    @r.post(
        "/conversations/{conversation_id}/share",
        status_code=201,
        summary="Make (or get) the conversation's read-only link",
        description="Returns `{url, token}`; the same link until it is revoked. Anyone signed in to this "
        "deployment can open it. 422 in AUTH_MODE=browser, where there is nobody else to share with.",
    )
    async def share(conversation_id: str, request: Request, owner: str = Depends(owner_of)) -> dict[str, str]:
        token = await call(chat.share(owner, conversation_id))
        return {"url": link_url(request, token), "token": token}

    @r.delete(
        "/conversations/{conversation_id}/share",
        status_code=204,
        summary="Revoke the conversation's link",
        description="The link stops working at once. 404 if it has none.",
    )
    async def unshare(conversation_id: str, owner: str = Depends(owner_of)) -> Response:
        if not await call(chat.unshare(owner, conversation_id)):
            raise of_chat_error(NotFound("That conversation has no link."))
        return Response(status_code=204)

    @r.get(
        "/shared/{token}",
        summary="What a share link opens",
        description="`{title, shared_by, messages}`: the visible thread, read-only, for any key of this "
        "deployment. 404 for a revoked link or one that never existed.",
    )
    async def shared(token: str, _: str = Depends(owner_of)) -> dict[str, Any]:
        found = await call(chat.shared(token))
        messages = [m for t in found.thread.turns for m in (t.question, t.answer) if m is not None]
        return {"title": found.title, "shared_by": found.sharer, "messages": [message_json(m) for m in messages]}

    return r
