"""Who is calling: `Authorization: Bearer <key>` → the key's owner, for the API and the gateway alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from services.api_keys import ApiKeys
from services.logs import bind

_bearer = HTTPBearer(auto_error=False, description="A streamchat API key: `uv run app.py api-key create --user NAME`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def key_owner(keys: ApiKeys) -> Callable[..., Awaitable[str]]:
    """A dependency returning the owner id every query of the request is scoped to."""

    async def owner(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str:  # noqa: B008
        if credentials is None or not credentials.credentials:
            raise Problem(401, "Send an API key as 'Authorization: Bearer <key>'.", "missing_key", _CHALLENGE)
        who = await keys.verify_async(credentials.credentials)
        if who is None:
            raise Problem(401, "This API key is not valid, or it was revoked.", "invalid_key", _CHALLENGE)
        bind(user_id=who)
        return who

    return owner
