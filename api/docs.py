"""API documentation that works offline and under our CSP: `/api/openapi.json` and `/api/docs`.

FastAPI's Swagger UI and ReDoc load their JavaScript from a CDN, which the Content-Security-Policy
(api/security.py) forbids and air-gapped machines cannot reach; NiceGUI turns them off anyway. So
the docs page is plain HTML rendered here from the same OpenAPI document: no script at all.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.routing import BaseRoute

TITLE = "streamchat HTTP API"
INTRO = (
    "Keys: `uv run app.py api-key create --user NAME` prints one; send it as `Authorization: Bearer <key>`. "
    "Every error is `application/problem+json` (RFC 9457): `status`, `title`, `detail`, and a `code` word; "
    "under `/v1` also OpenAI's `error` object. Another user's ids answer 404."
)
_CODE = re.compile(r"`([^`]+)`")
_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.6rem}h2{font-size:1.15rem;margin-top:2rem;border-top:1px solid #d0d7de;padding-top:1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}
code{background:#f6f8fa;padding:0 .25rem;border-radius:4px}table{border-collapse:collapse}
td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
"""


def _text(value: str) -> str:
    """Escaped, with `code` spans: the only markup our descriptions use."""
    return _CODE.sub(r"<code>\1</code>", html.escape(value, quote=False))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    parts = [f'<h3><span class="m">{method.upper()}</span> <code>{html.escape(path)}</code></h3>']
    if op.get("summary"):
        parts.append(f"<p><b>{_text(op['summary'])}</b></p>")
    if op.get("description"):
        parts.append(f"<p>{_text(op['description'])}</p>")
    params = op.get("parameters") or []
    if params:
        rows = "".join(
            f"<tr><td><code>{html.escape(p['name'])}</code></td><td>{html.escape(p['in'])}</td>"
            f"<td>{'required' if p.get('required') else 'optional'}</td></tr>"
            for p in params
        )
        parts.append(f"<table><tr><th>parameter</th><th>in</th><th></th></tr>{rows}</table>")
    codes = ", ".join(html.escape(code) for code in op.get("responses", {}))
    auth = "Bearer key" if op.get("security") else "no key"
    parts.append(f"<p>Responses: {codes}. Auth: {auth}.</p>")
    return "".join(parts)


def docs_html(spec: dict[str, Any]) -> str:
    sections: dict[str, list[str]] = {}
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["Operations"])[0]
            sections.setdefault(tag, []).append(_operation(path, method, op))
    body = "".join(f"<h2>{html.escape(tag)}</h2>{''.join(ops)}" for tag, ops in sections.items())
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{TITLE}</h1><p>{_text(INTRO)}</p>"
        f'<p>Machine-readable: <a href="openapi.json">/api/openapi.json</a> (OpenAPI {spec["openapi"]}).</p>'
        f"{body}</body></html>"
    )


def register_docs(app: FastAPI, routes: Iterable[BaseRoute]) -> None:
    """Only our API's routes are documented, not NiceGUI's internals."""
    spec = get_openapi(title=TITLE, version="1", description=INTRO, routes=list(routes))
    page = docs_html(spec)

    @app.get("/api/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(spec)

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)
