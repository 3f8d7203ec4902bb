"""TRUSTED_PROXIES, applied once: forwarded headers are believed only from these socket peers.

uvicorn's own proxy middleware rewrites `scope["client"]` to the X-Forwarded-For address before any
app code runs, so the address a request *came from* is lost by the time it would be checked. This
middleware takes uvicorn's place (the app runs uvicorn with `proxy_headers=False`): it records the
socket peer in the scope first, then lets uvicorn's middleware do the X-Forwarded-* rewriting, with
the same list. The identity header of AUTH_MODE=header is checked against the recorded peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

PEER = "streamchat.peer"  # scope key: the TCP peer's address, before any X-Forwarded-For rewriting

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 127.0.0.1, ::1` → networks; ValueError names an entry that is not an address."""
    networks = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an IP address or CIDR") from None
    return tuple(networks)


def peer_in(peer: str | None, networks: Iterable[Network]) -> bool:
    if not peer:
        return False  # a unix socket or a test transport: no address to trust
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in net for net in networks)


def socket_peer(scope: Scope) -> str | None:
    return scope.get(PEER)


class PeerMiddleware:
    """Outermost: remember the socket peer, then apply X-Forwarded-Proto/-For from trusted peers."""

    def __init__(self, app: ASGIApp, trusted: str) -> None:
        self.app = app
        self.forwarded = ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope[PEER] = client[0] if client else None
        await self.forwarded(scope, receive, send)  # type: ignore[arg-type]
