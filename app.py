"""streamchat: wires settings, services and pages, then serves the NiceGUI app."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys

from services.logs import configure_logging
from services.settings import Settings

log = logging.getLogger("streamchat")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="streamchat — a streaming chat UI")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1); to be reached by another name than "
        "localhost, also set ALLOWED_HOSTS (e.g. chat.example.com)",
    )
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    return parser.parse_args(argv)


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def use_websockets_sansio() -> None:
    """Serve page websockets with websockets' sans-I/O protocol instead of pure-Python wsproto.

    NiceGUI hard-codes ``ws='wsproto'`` (to avoid websockets' deprecated legacy server; ``ui.run``
    cannot override it), and wsproto frames and masks every message in Python: with a page per answer
    that was the largest single cost after our own rendering (bench/LOAD.md, "Page path"). The sans-I/O
    protocol is the non-legacy one, with C speedups. uvicorn reads the class per connection, so setting
    it at start-up (before the socket listens) is enough."""
    from nicegui.server import Server
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    Server.instance.config.ws_protocol_class = WebSocketsSansIOProtocol


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["api-key"]:  # an operator command, not the server
        from api.cli import run

        raise SystemExit(run(argv[1:]))
    args = parse_args(argv)
    os.umask(0o077)  # everything the app writes (database, -wal/-shm, secret, preferences) is the user's alone
    configure_logging()
    settings = Settings()
    # NiceGUI reads this at import: per-user preferences live beside the database.
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str((settings.streamchat_data_dir / "nicegui").resolve()))

    from nicegui import app, ui
    from starlette.middleware.sessions import SessionMiddleware

    from api.doors import split_doors
    from api.identity import IdentityMiddleware
    from api.routes import HEALTH_PATH, register_api
    from api.security import HostCheckMiddleware, SecurityHeadersMiddleware
    from api.stats import register_stats
    from components.chat_page import register_pages
    from services.identity import IdentityCodec
    from services.runtime import build_context, make_data_dir_private, storage_secret, warm_up

    make_data_dir_private(settings.streamchat_data_dir)
    try:
        secret = storage_secret(settings)
        ctx = build_context(settings)
    except (ValueError, FileNotFoundError) as exc:  # a short secret, a LOCAL_MODEL_PATH pointing nowhere
        raise SystemExit(f"streamchat: {exc}") from None
    log.info("answering with %s", ctx.backend.label)
    if not _is_loopback(args.host) and not settings.allowed_hosts:
        log.warning(
            "listening on %s, but only requests addressed to localhost, 127.0.0.1 or [::1] are served; "
            "set ALLOWED_HOSTS=<name you reach it by> (comma-separated, * for any)",
            args.host,
        )
    register_pages(ctx.chat, ctx.api_keys)
    register_stats(app, ctx.chat, ctx.loop_monitor, settings.stats_token)
    register_api(app, ctx.chat, ctx.api_keys, ctx.backend.model)

    # add_middleware puts each one outside the previous: Host check → headers → session → identity,
    # and NiceGUI appends its RequestTrackingMiddleware innermost, after identity has set the session id.
    app.add_middleware(IdentityMiddleware, codec=IdentityCodec(secret))
    app.add_middleware(SessionMiddleware, secret_key=secret)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(HostCheckMiddleware, allowed=settings.host_allowlist, exempt=(HEALTH_PATH,))
    split_doors(app, keep=(HostCheckMiddleware, SecurityHeadersMiddleware), exact=(HEALTH_PATH,))
    app.on_startup(use_websockets_sansio)
    app.on_startup(lambda: warm_up(ctx))
    app.on_startup(ctx.loop_monitor.start)
    app.on_shutdown(ctx.close)
    ui.run(
        host=args.host,
        port=args.port,
        show=not args.no_browser,
        reload=False,
        title="streamchat",
        favicon="💬",
        storage_secret=secret,
        show_welcome_message=False,
        forwarded_allow_ips=settings.trusted_proxies,  # X-Forwarded-Proto (→ Secure cookies) only from these
    )


if __name__ == "__main__":
    main()
