"""`/api/stats`: counts for operators and the leak test, readable from loopback or with STATS_TOKEN.

Counts hold no content, but they tell an outsider how busy the server is and when someone is
chatting; so peers that are not on this machine need `Authorization: Bearer $STATS_TOKEN`. Behind
a reverse proxy listed in TRUSTED_PROXIES, uvicorn reports the real client, not the proxy.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from nicegui import Client

from services.chat import ChatService
from services.loop_monitor import LoopMonitor


def stats_allowed(request: Request, token: str) -> bool:
    sent = request.headers.get("authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def register_stats(app: FastAPI, chat: ChatService, loop_monitor: LoopMonitor, token: str) -> None:
    @app.get("/api/stats")
    async def stats(request: Request) -> dict[str, Any]:
        """Counts only (no content): lets operators and the leak test see that nothing piles up, and
        how late the event loop has run its timers (`loop`: see services/loop_monitor.py)."""
        if not stats_allowed(request, token):
            raise HTTPException(403, "loopback only, or Authorization: Bearer $STATS_TOKEN")
        return {
            **chat.stats(),
            "clients": len(Client.instances),
            "tasks": len(asyncio.all_tasks()),
            "loop": loop_monitor.stats(),
        }
