"""Wires the HTTP doors onto NiceGUI's FastAPI app: /healthz, /readyz, /api/v1, the /v1 gateway and their docs."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api import gateway, problems
from api.docs import register_docs
from api.metrics import METRICS_PATH, metrics_router
from api.problems import Problem, documented
from api.v1 import routes as v1
from api.v1 import sharing, steering
from services.api_keys import ApiKeys
from services.chat import ChatService

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
PROBE_PATHS = (HEALTH_PATH, READY_PATH, METRICS_PATH)  # no session, no Host check: probes and scrapers come by IP


def health_router(chat: ChatService) -> APIRouter:
    r = APIRouter(tags=["Operations"])

    @r.get(HEALTH_PATH, summary="Liveness: 200 while the server answers")
    async def healthz() -> dict[str, str]:
        """No database, no upstream: cheap enough to probe every second (and to time the event loop)."""
        return {"status": "ok"}

    @r.get(
        READY_PATH,
        summary="Readiness: 200 when the database answers with its migrations at head",
        responses=documented(503),
    )
    async def readyz() -> dict[str, str]:
        """503 (problem+json naming each part that failed) takes this instance out of a load balancer's
        rotation without restarting it; one small query, no key."""
        failed = await chat.not_ready()
        if failed:
            detail = "; ".join(f"{part}: {why}" for part, why in failed.items())
            raise Problem(503, f"Not ready: {detail}.", "not_ready")
        return {"status": "ready"}

    return r


def register_api(app: FastAPI, chat: ChatService, keys: ApiKeys, model: str) -> None:
    problems.install(app)
    routers = [
        health_router(chat),
        metrics_router(chat.metrics, chat.settings.metrics_token),
        v1.router(chat, keys),
        steering.router(chat, keys),
        sharing.router(chat, keys),
        gateway.router(chat, keys, model),
    ]
    for r in routers:
        app.include_router(r)
    register_docs(app, [route for r in routers for route in r.routes])
