"""Keeps each browser's owner id in our own long-lived cookie and hands it to NiceGUI as the session id.

Runs between Starlette's SessionMiddleware and NiceGUI's RequestTrackingMiddleware, so the id
NiceGUI sees (`app.storage.browser["id"]`, also the key of `app.storage.user`) is always the
durable one: conversations and per-user preferences both survive the session cookie's expiry.
"""

from __future__ import annotations

import logging
import uuid

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.identity import COOKIE_NAME, MAX_AGE_S, UNREADABLE, IdentityCodec

log = logging.getLogger(__name__)


def is_page_load(scope: Scope, conn: HTTPConnection) -> bool:
    return scope["type"] == "http" and scope["method"] == "GET" and "text/html" in conn.headers.get("accept", "")


class IdentityMiddleware:
    """Reads the identity cookie, adopts NiceGUI's id the first time, re-issues on every page load."""

    def __init__(self, app: ASGIApp, codec: IdentityCodec) -> None:
        self.app = app
        self.codec = codec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        session = scope["session"]
        cookie = conn.cookies.get(COOKIE_NAME)
        owner = self.codec.read(cookie) if cookie else None
        if owner is None:
            owner = session.get("id")  # existing users: adopt the id their conversations are stored under
            if cookie and owner is None and is_page_load(scope, conn):
                scope.setdefault("state", {})[UNREADABLE] = True
                log.warning(
                    "an identity cookie failed its signature check (was STORAGE_SECRET changed?); "
                    "that browser starts with a new identity"
                )
        if not is_page_load(scope, conn):
            if owner is not None and session.get("id") != owner:
                session["id"] = owner
            await self.app(scope, receive, send)
            return
        owner = owner or str(uuid.uuid4())
        session["id"] = owner  # marks the session modified, so its cookie is re-issued as well
        value = self.codec.issue(owner)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "Set-Cookie", f"{COOKIE_NAME}={value}; Path=/; Max-Age={MAX_AGE_S}; HttpOnly; SameSite=Lax"
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)
