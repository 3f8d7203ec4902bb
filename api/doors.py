"""The HTTP doors (`/api/…`, `/v1/…`, `/healthz`) get a middleware stack of their own, without the pages'.

API clients send a bearer key, never a session cookie, so the browser middlewares only cost them:
NiceGUI's three `BaseHTTPMiddleware`s (request tracking, redirect prefix, cache control) each pass
every streamed chunk through an anyio memory stream and a task; its request tracking gives every
cookie-less request a new id and creates a user storage for it that is never freed (one per
`/healthz` probe); the session and identity middlewares sign a cookie nobody reads; and gzip
compresses every streamed NDJSON line on its own (a zlib sync flush per delta) to save a few bytes.
The doors keep what protects them (Host check, security headers) and FastAPI's own error handling.
Measured with bench/load.py: see bench/LOAD.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

DOOR_PREFIXES = ("/api/", "/v1/")


def route_path(scope: Scope) -> str:
    """The path this app routes by: without the prefix a proxy serves it under (`--root-path`), which
    uvicorn puts in front of `scope["path"]` and in `scope["root_path"]`, as ASGI says."""
    path, root = scope["path"], scope.get("root_path", "")
    if not root or not path.startswith(root) or path[len(root) : len(root) + 1] not in ("", "/"):
        return path
    return path[len(root) :] or "/"


def is_door(path: str, exact: Iterable[str]) -> bool:
    return path.startswith(DOOR_PREFIXES) or path in exact


class DoorSplit:
    """Sends HTTP requests to the doors' stack, everything else (pages, websockets, lifespan) to the full one."""

    def __init__(self, pages: ASGIApp, doors: ASGIApp, exact: Iterable[str]) -> None:
        self.pages = pages
        self.doors = doors
        self.exact = frozenset(exact)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_door(route_path(scope), self.exact):
            await self.doors(scope, receive, send)
        else:
            await self.pages(scope, receive, send)


def split_doors(app: Starlette, keep: tuple[type, ...], exact: Iterable[str] = ()) -> None:
    """Make `app` build two stacks from its own middleware list: all of it for pages, only the `keep`
    classes for the doors. Starlette builds the stack on the first call, after NiceGUI's `ui.run` has
    added its middlewares, so they are all in the list by then."""
    build = app.build_middleware_stack
    exact = tuple(exact)

    def build_both() -> ASGIApp:
        every = app.user_middleware
        pages = build()
        app.user_middleware = [m for m in every if m.cls in keep]
        try:
            doors = build()
        finally:
            app.user_middleware = every
        return DoorSplit(pages, doors, exact)

    app.build_middleware_stack = build_both  # type: ignore[method-assign]
