"""AUTH_MODE=oidc: sign-in with an OpenID Connect provider (Entra ID, Keycloak, Google, …) through authlib.

Authorization code flow with state, nonce and PKCE; the provider is found through its discovery
document (`OIDC_ISSUER/.well-known/openid-configuration`). The id_token's signature (the provider's
JWKS), `iss` (exactly OIDC_ISSUER), `aud` (OIDC_CLIENT_ID), `exp` and `nonce` are checked by authlib;
`aud` only because it is named in the claims options (authlib 1.9 does not check it otherwise: a
token the provider made for another application would sign in here, which tests/e2e/test_oidc.py catches).
A user is keyed by `iss|sub`, never by email: Entra ID may send no `email` claim (then
`preferred_username` or `upn` is the shown address) and emails can be re-assigned.
The signed-in user is kept in the session cookie (signed with STORAGE_SECRET) until sign-out.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from fastapi import FastAPI, Request
from joserfc.errors import JoseError
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from api.identity import is_page_load
from api.signin import plain_page
from services.users import SignedIn, Users

log = logging.getLogger(__name__)

PREFIX = "/auth/"
LOGIN, CALLBACK, LOGOUT = f"{PREFIX}login", f"{PREFIX}callback", f"{PREFIX}logout"
USER_KEY = "oidc_user"  # session: the SignedIn as a dict
NEXT_KEY = "oidc_next"  # session: where to go after signing in


def safe_next(path: str | None) -> str:
    """Only a path on this site: `//evil.example` or `https://…` would make sign-in an open redirect."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    return path


def address_of(claims: dict[str, Any]) -> str:
    """What the header shows and `api-key create --user` takes: Entra ID may have no `email` claim."""
    for claim in ("email", "preferred_username", "upn"):
        if isinstance(claims.get(claim), str) and claims[claim].strip():
            return claims[claim]
    return f"{claims['sub']}@{claims['iss']}"  # a provider that tells nothing but the subject


class OidcAuthenticator:
    """Who is signed in comes from the session; without one, a page load goes to the provider."""

    open_paths = (PREFIX,)

    def __init__(self, users: Users, issuer: str, client_id: str, client_secret: str) -> None:
        self.users = users
        # authlib checks `iss` against discovery and `aud` not at all unless told: both are set here.
        self.claims = {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": client_id}}
        self.issuer = issuer
        self.client: Any = OAuth().register(
            "oidc",
            client_id=client_id,
            client_secret=client_secret,
            server_metadata_url=f"{issuer.rstrip('/')}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )

    async def identify(self, conn: HTTPConnection) -> SignedIn | None:
        data = conn.session.get(USER_KEY)
        return SignedIn(**data) if isinstance(data, dict) else None

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        conn = HTTPConnection(scope)
        if is_page_load(scope, conn):
            target = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
            response: Response = RedirectResponse(f"{LOGIN}?next={quote(target)}", 303)
        else:
            response = PlainTextResponse("Sign in first: open the page to be sent to the sign-in provider.", 401)
        await response(scope, receive, send)

    async def login(self, request: Request) -> Response:
        request.session[NEXT_KEY] = safe_next(request.query_params.get("next"))
        try:
            return await self.client.authorize_redirect(request, str(request.url_for("oidc_callback")))
        except (httpx.HTTPError, AuthlibBaseError, KeyError, ValueError) as exc:
            log.warning("the sign-in provider %s could not be reached: %s", self.issuer, exc)
            return plain_page(502, "Sign-in provider unreachable", "Try again in a moment.", (LOGIN, "Try again"))

    async def callback(self, request: Request) -> Response:
        try:
            token = await self.client.authorize_access_token(request, claims_options=self.claims)
            claims = token.get("userinfo")
            if not claims:
                raise ValueError("the provider sent no id_token")
            who = await self.users.sign_in_async(
                address_of(claims), claims.get("name", ""), f"{claims['iss']}|{claims['sub']}"
            )
        except (AuthlibBaseError, JoseError, httpx.HTTPError, KeyError, ValueError) as exc:
            log.warning("an OIDC sign-in was refused: %s: %s", type(exc).__name__, exc)
            return plain_page(
                401, "Sign-in failed", f"The sign-in could not be verified ({exc}).", (LOGIN, "Sign in again")
            )
        target = safe_next(request.session.get(NEXT_KEY))
        request.session.clear()  # nothing from before the sign-in (or another user's) carries over
        request.session.update({USER_KEY: asdict(who), "id": who.id})
        log.info("signed in user %s", who.id)
        return RedirectResponse(target, 303)

    async def logout(self, request: Request) -> Response:
        request.session.clear()
        return plain_page(200, "Signed out", "You are signed out of streamchat.", (LOGIN, "Sign in again"))

    def add_routes(self, app: FastAPI) -> None:
        app.add_api_route(LOGIN, self.login, methods=["GET"], include_in_schema=False)
        app.add_api_route(CALLBACK, self.callback, methods=["GET"], name="oidc_callback", include_in_schema=False)
        app.add_api_route(LOGOUT, self.logout, methods=["GET", "POST"], include_in_schema=False)
