"""`GET /metrics`: Prometheus text, only for a scraper holding `Authorization: Bearer $METRICS_TOKEN`.

Unset token: 404, as if there were no such page (nothing about the instance leaks by default).
Served on the light door like /healthz: no session, no Host check (scrapers come by IP).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.problems import Problem
from services.metrics import CONTENT_TYPE, Metrics

METRICS_PATH = "/metrics"


def metrics_router(metrics: Metrics, token: str) -> APIRouter:
    r = APIRouter(tags=["Operations"])

    @r.get(METRICS_PATH, summary="Prometheus metrics (streamchat_*), with the METRICS_TOKEN bearer token")
    async def scrape(request: Request) -> Response:
        if not token:
            raise Problem(404, "Not Found")
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Problem(401, "A valid METRICS_TOKEN bearer token is needed.", headers={"WWW-Authenticate": "Bearer"})
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return r
