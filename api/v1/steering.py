"""`/api/v1/conversations/{id}/settings`: how a conversation is answered, and what it has used."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from api.deps import key_owner
from api.problems import Problem, call, documented, read_json
from services.api_keys import ApiKeys
from services.chat import ChatService
from services.steering import MAX_SYSTEM_PROMPT_CHARS, Steering

BODY_LIMIT = MAX_SYSTEM_PROMPT_CHARS * 8 + 4096  # escapes can make a character take several bytes
KINDS: dict[str, tuple[type, ...]] = {
    "system_prompt": (str,),
    "temperature": (int, float),
    "max_tokens": (int,),
    "model": (str,),
}


def patched(current: Steering, body: dict[str, Any]) -> Steering:
    """Fields in the body replace the current ones (null: back to the default); others stay."""
    values = current.values()
    for name, value in body.items():
        if name not in KINDS:
            raise Problem(422, f"Unknown setting `{name}`; the settings are {', '.join(KINDS)}.", "invalid_setting")
        if value is not None and (isinstance(value, bool) or not isinstance(value, KINDS[name])):
            raise Problem(
                422,
                f"`{name}` must be {KINDS[name][0].__name__.replace('str', 'a string')} or null.",
                "invalid_setting",
            )
        values[name] = value
    return Steering(**values)


def router(chat: ChatService, keys: ApiKeys) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["API v1"], responses=documented(401, 404, 413, 422))
    owner_of = key_owner(keys)

    async def described(owner: str, conversation_id: str, steering: Steering) -> dict[str, Any]:
        usage = await call(chat.usage_totals(owner, conversation_id))
        return {**steering.values(), "models": await chat.models(), "usage": vars(usage)}

    @r.get(
        "/conversations/{conversation_id}/settings",
        summary="How a conversation is answered",
        description="`system_prompt`, `temperature`, `max_tokens`, `model` (null: the default), the `models` "
        "it may choose from, and its `usage` totals `{answers, prompt_tokens, completion_tokens}`.",
    )
    async def get_settings(conversation_id: str, owner: str = Depends(owner_of)) -> dict[str, Any]:
        return await described(owner, conversation_id, await call(chat.steering(owner, conversation_id)))

    @r.patch(
        "/conversations/{conversation_id}/settings",
        summary="Change how a conversation is answered",
        description='Body: any of `{"system_prompt", "temperature", "max_tokens", "model"}`; null restores the '
        "default. Applies from the next answer on. 422 names a value out of range or an unknown model.",
    )
    async def patch_settings(conversation_id: str, request: Request, owner: str = Depends(owner_of)) -> dict[str, Any]:
        body = await read_json(request, BODY_LIMIT)
        steering = patched(await call(chat.steering(owner, conversation_id)), body)
        return await described(owner, conversation_id, await call(chat.steer(owner, conversation_id, steering)))

    return r
