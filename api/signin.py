"""AUTH_MODE header|oidc: every page load, asset and websocket connect acts for the signed-in user, or is refused.

The identity is resolved on every request (a proxy's header can change between two requests of the
same browser). When it differs from the one the browser's session was made for, the session is
emptied: NiceGUI's user storage and everything keyed by the session id start from the new user's,
nothing of the previous user's carries over. A page is bound to the user it was built for: a socket
that connects to it as someone else is turned away, and NiceGUI then reloads the tab, which builds
the page anew for whoever is signed in now.

(The HTTP doors, /api and /v1, do not pass here: they authenticate every request by its API key.)
"""

from __future__ import annotations

import html
import logging
from typing import Protocol
from urllib.parse import parse_qsl, urlencode

from nicegui import Client
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.doors import route_path
from api.identity import is_page_load
from api.proxies import Network, peer_in, socket_peer
from services.identity import COOKIE_NAME, EARLIER_BROWSER_ID, IdentityCodec
from services.users import SIGNED_IN, SignedIn, Users

log = logging.getLogger(__name__)

SOCKET_PATH = "/_nicegui_ws/"


class Authenticator(Protocol):
    """One way of knowing who is signed in (a trusted proxy's header, an OIDC session)."""

    open_paths: tuple[str, ...]  # served to anyone: the sign-in flow's own routes

    async def identify(self, conn: HTTPConnection) -> SignedIn | None: ...

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request that has no signed-in user (an HTTP request; websockets are closed)."""


def plain_page(status: int, title: str, text: str, link: tuple[str, str] | None = None) -> HTMLResponse:
    """A plain page that says what is wrong; no NiceGUI (nobody to build it for)."""
    action = f'<p><a href="{html.escape(link[0])}">{html.escape(link[1])}</a></p>' if link else ""
    body = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)} · streamchat</title>"
        '<meta name=viewport content="width=device-width"></head>'
        '<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem">'
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{action}</body></html>"
    )
    return HTMLResponse(body, status)


class HeaderAuthenticator:
    """Believes AUTH_HEADER (and AUTH_NAME_HEADER) only on requests whose socket peer is a trusted proxy."""

    open_paths: tuple[str, ...] = ()

    def __init__(self, users: Users, header: str, name_header: str, trusted: tuple[Network, ...]) -> None:
        self.users, self.header, self.name_header, self.trusted = users, header, name_header, trusted

    async def identify(self, conn: HTTPConnection) -> SignedIn | None:
        email = conn.headers.get(self.header, "").strip()
        if not email or not peer_in(socket_peer(conn.scope), self.trusted):
            return None
        name = conn.headers.get(self.name_header, "") if self.name_header else ""
        try:
            return await self.users.sign_in_async(email, name)
        except ValueError:
            log.warning("the %s header does not hold a usable email or login name", self.header)
            return None

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        conn = HTTPConnection(scope)
        if conn.headers.get(self.header) and not peer_in(socket_peer(scope), self.trusted):
            log.warning("ignored %s from %s: not in TRUSTED_PROXIES", self.header, socket_peer(scope))
            page = plain_page(
                403,
                "Not signed in through the sign-in proxy",
                "This request did not come from a trusted sign-in proxy, so the identity it carries is not "
                "believed. Open streamchat through your organisation's address for it.",
            )
        else:
            page = plain_page(
                401,
                "Sign-in required",
                f"streamchat is served behind a sign-in proxy, and this request carried no identity "
                f"(no {self.header} header). Open streamchat through your organisation's address for it.",
            )
        await page(scope, receive, send)


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope.get("query_string", b"").decode("latin1"), keep_blank_values=True))


def _page_owner(query: dict[str, str]) -> str | None:
    """The user a NiceGUI page was built for, when this is a socket connecting to that page."""
    client = Client.instances.get(query.get("client_id", ""))
    return client.request.session.get("id") if client is not None and client.request is not None else None


def _turn_away(scope: Scope, query: dict[str, str]) -> None:
    """Make NiceGUI refuse this socket's handshake (no page with that id), so the tab reloads itself."""
    scope["query_string"] = urlencode({**query, "client_id": "signed-in-as-someone-else"}).encode("latin1")


class SignInMiddleware:
    """Between the session and NiceGUI: sets the session id to the signed-in user's, or refuses.

    `codec` reads the browser-mode identity cookie a browser may still have, so the Account dialog
    can show its id for `app.py claim` after the switch to team sign-in."""

    def __init__(self, app: ASGIApp, auth: Authenticator, codec: IdentityCodec) -> None:
        self.app, self.auth, self.codec = app, auth, codec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or (
            self.auth.open_paths and route_path(scope).startswith(self.auth.open_paths)
        ):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        who = await self.auth.identify(conn)
        if who is None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await self.auth.refuse(scope, receive, send)
            return
        session = scope["session"]
        if session.get("id") != who.id:  # another user signed in in this browser: start from nothing
            session.clear()
            session["id"] = who.id
        state = scope.setdefault("state", {})
        state[SIGNED_IN] = who
        if is_page_load(scope, conn) and (cookie := conn.cookies.get(COOKIE_NAME)):
            state[EARLIER_BROWSER_ID] = self.codec.read(cookie)
        if route_path(scope).startswith(SOCKET_PATH) and _page_owner(query := _query(scope)) not in (None, who.id):
            if "sid" in query:  # a running polling session: no handshake left to fail
                await plain_page(403, "Signed in as someone else", "Reload the page.")(scope, receive, send)
                return
            log.info("a page built for another user was reconnected after a change of sign-in; reloading it")
            _turn_away(scope, query)
        await self.app(scope, receive, send)
