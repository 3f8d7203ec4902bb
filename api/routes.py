"""Wires the HTTP doors onto NiceGUI's FastAPI app: /healthz, /api/v1, the /v1 gateway and their docs."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api import gateway, problems
from api.docs import register_docs
from api.v1 import routes as v1
from services.api_keys import ApiKeys
from services.chat import ChatService

HEALTH_PATH = "/healthz"


def health_router() -> APIRouter:
    r = APIRouter(tags=["Operations"])

    @r.get(HEALTH_PATH, summary="Liveness: 200 while the server answers")
    async def healthz() -> dict[str, str]:
        """No database, no upstream: cheap enough to probe every second (and to time the event loop)."""
        return {"status": "ok"}

    return r


def register_api(app: FastAPI, chat: ChatService, keys: ApiKeys, model: str) -> None:
    problems.install(app)
    routers = [health_router(), v1.router(chat, keys), gateway.router(chat, keys, model)]
    for r in routers:
        app.include_router(r)
    register_docs(app, [route for r in routers for route in r.routes])
