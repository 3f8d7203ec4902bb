"""HTTP hardening for every response: a Host allowlist, a Content-Security-Policy and Secure cookies.

Host check: without it a DNS-rebinding page (attacker.example resolving to 127.0.0.1) could drive
the local app, and with it the user's keyless Azure identity. CSP: tested in Chromium, NiceGUI
needs `'unsafe-eval'` (without it the page never mounts: nicegui.js evals `run_javascript` code,
JS event handlers and `:prop` bindings, and Vue compiles templates) and inline styles (Quasar,
Tailwind's runtime, `addStyle`). Its inline scripts are fixed per page, though, so each HTML
response lists their hashes instead of allowing inline scripts: an injected `<script>` or
`onerror=` does not run.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.doors import route_path

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.S | re.I)
_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'{hashes}; style-src 'self' 'unsafe-inline'; "
    # click-to-load images in answers come from anywhere the user chooses; nothing else is remote
    "img-src 'self' data: blob: https: http:; font-src 'self' data:; connect-src 'self'; "
    "frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1] or [::1]:8080
        return host[: host.find("]") + 1]
    return host.split(":", 1)[0]


def host_allowed(host_header: str, allowed: Iterable[str]) -> bool:
    """`allowed` holds names (any port): `chat.example.com`, `*.example.com` (subdomains), or `*`."""
    name = _host_name(host_header)
    return any(
        pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:]))
        for pattern in allowed
    )


class HostCheckMiddleware:
    """Answers 400 to HTTP requests, and closes websockets, whose Host header is not allowed.

    `exempt` paths skip the check: a health check (`/healthz`) answers a constant, worth nothing to a
    rebinding page, and load balancers and Kubernetes probes send the instance's IP as Host."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str], exempt: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = tuple(h.lower() for h in allowed)
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] in ("http", "websocket")
            and route_path(scope) not in self.exempt
            and not host_allowed(Headers(scope=scope).get("host", ""), self.allowed)
        ):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await PlainTextResponse("Invalid Host header (see ALLOWED_HOSTS)", 400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def content_security_policy(html: bytes) -> str:
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'" for body in _INLINE_SCRIPT.findall(html)
    )
    return _POLICY.format(hashes=hashes)


class SecurityHeadersMiddleware:
    """Adds CSP and related headers; on HTTPS (as uvicorn saw it) marks every cookie `Secure`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        start: Message | None = None
        body: list[bytes] = []

        async def send_hardened(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                if https:
                    _mark_cookies_secure(message)
                if not headers.get("content-type", "").startswith("text/html"):
                    await send(message)
                    return
                start = message  # HTML: hold the head until the body's inline scripts are hashed
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            MutableHeaders(scope=start)["Content-Security-Policy"] = content_security_policy(b"".join(body))
            await send(start)
            await send({"type": "http.response.body", "body": b"".join(body)})

        await self.app(scope, receive, send_hardened)


def _mark_cookies_secure(message: Message) -> None:
    message["headers"] = [
        (k, v + b"; Secure") if k.lower() == b"set-cookie" and b"secure" not in v.lower() else (k, v)
        for k, v in message["headers"]
    ]
