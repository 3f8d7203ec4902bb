"""streamchat: wires settings, services and pages, then serves the NiceGUI app."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from services.logs import configure_logging
from services.settings import Settings

if TYPE_CHECKING:  # nicegui must not be imported before NICEGUI_STORAGE_PATH is set (main)
    from fastapi import FastAPI

    from api.signin import Authenticator
    from services.users import Users

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
    parser.add_argument(
        "--root-path",
        default=None,
        help="the path a reverse proxy serves the app under, e.g. /chat (default: ROOT_PATH); the proxy "
        "strips it before passing requests on",
    )
    return parser.parse_args(argv)


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _sign_in(settings: Settings, app: FastAPI, users: Users) -> Authenticator | None:
    """The authenticator of AUTH_MODE header|oidc (None in browser mode); OIDC also gets its routes."""
    from api.oidc import OidcAuthenticator
    from api.proxies import parse_networks
    from api.signin import HeaderAuthenticator

    if settings.auth_mode == "header":
        trusted = parse_networks(settings.trusted_proxies)
        return HeaderAuthenticator(users, settings.auth_header, settings.auth_name_header, trusted)
    if settings.auth_mode == "oidc":
        oidc = OidcAuthenticator(users, settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
        oidc.add_routes(app)
        return oidc
    return None


def _database_unreachable(url: str, exc: OperationalError) -> str:
    """The driver's first line names the cause (refused, bad password, no such database); the URL is
    shown without its password so the message can go to a shared log."""
    cause = str(exc.orig or exc).strip().splitlines()[0]
    return f"streamchat: the database {make_url(url).render_as_string(hide_password=True)} cannot be used: {cause}"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["api-key"], ["claim"], ["usage"]):  # operator commands, not the server
        from api.cli import run, run_claim, run_usage

        command = {"api-key": run, "claim": run_claim, "usage": run_usage}[argv[0]]
        raise SystemExit(command(argv[1:]))
    args = parse_args(argv)
    os.umask(0o077)  # everything the app writes (database, -wal/-shm, secret, preferences) is the user's alone
    settings = Settings()
    configure_logging(settings.log_format)
    # NiceGUI reads this at import: per-user preferences live beside the database.
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str((settings.streamchat_data_dir / "nicegui").resolve()))

    from nicegui import app, ui
    from starlette.middleware.sessions import SessionMiddleware

    from api.doors import split_doors
    from api.identity import IdentityMiddleware
    from api.oidc import LOGOUT
    from api.proxies import PeerMiddleware
    from api.routes import PROBE_PATHS, register_api
    from api.security import HostCheckMiddleware, SecurityHeadersMiddleware
    from api.signin import SignInMiddleware
    from api.stats import register_stats
    from components.chat_page import register_pages
    from services.identity import IdentityCodec
    from services.runtime import build_context, make_data_dir_private, storage_secret, warm_up
    from services.users import Users

    make_data_dir_private(settings.streamchat_data_dir)
    if problem := settings.identity_problem() or settings.cluster_problem():
        raise SystemExit(f"streamchat: {problem}")
    try:
        secret = storage_secret(settings)
        ctx = build_context(settings)
        sign_in = _sign_in(settings, app, Users(ctx.store.engine))
    except (ValueError, FileNotFoundError) as exc:  # a short secret, a LOCAL_MODEL_PATH pointing nowhere
        raise SystemExit(f"streamchat: {exc}") from None
    except OperationalError as exc:  # the database server is down or refuses us: say so, not a traceback
        raise SystemExit(_database_unreachable(settings.resolved_database_url, exc)) from None
    log.info("answering with %s", ctx.backend.label)
    if not _is_loopback(args.host) and not settings.allowed_hosts:
        log.warning(
            "listening on %s, but only requests addressed to localhost, 127.0.0.1 or [::1] are served; "
            "set ALLOWED_HOSTS=<name you reach it by> (comma-separated, * for any)",
            args.host,
        )
    register_pages(ctx.chat, ctx.api_keys, sign_out=LOGOUT if settings.auth_mode == "oidc" else None)
    register_stats(app, ctx.chat, ctx.loop_monitor, settings.stats_token)
    register_api(app, ctx.chat, ctx.api_keys, ctx.backend.model)

    # add_middleware puts each one outside the previous: peer → Host check → headers → session → identity,
    # and NiceGUI appends its RequestTrackingMiddleware innermost, after identity has set the session id.
    if sign_in is None:
        app.add_middleware(IdentityMiddleware, codec=IdentityCodec(secret))
    else:
        app.add_middleware(SignInMiddleware, auth=sign_in, codec=IdentityCodec(secret))
    app.add_middleware(SessionMiddleware, secret_key=secret)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(HostCheckMiddleware, allowed=settings.host_allowlist, exempt=PROBE_PATHS)
    app.add_middleware(PeerMiddleware, trusted=settings.trusted_proxies)
    split_doors(app, keep=(PeerMiddleware, HostCheckMiddleware, SecurityHeadersMiddleware), exact=PROBE_PATHS)
    app.on_connect(lambda: ctx.chat.metrics.clients.inc())  # NiceGUI passes the client to a handler that takes one
    app.on_disconnect(lambda: ctx.chat.metrics.clients.dec())
    app.on_startup(lambda: warm_up(ctx))
    app.on_startup(ctx.loop_monitor.start)
    app.on_startup(ctx.start_cluster)
    app.on_shutdown(ctx.close)
    # Quasar's bar flashed on every module NiceGUI fetches, an unnamed progressbar to screen readers.
    app.config.quasar_config["loadingBar"]["skipHijack"] = True
    ui.run(
        host=args.host,
        port=args.port,
        show=not args.no_browser,
        reload=False,
        title="streamchat",
        language="en-US",  # also the page's <html lang>, which screen readers pronounce by
        favicon="💬",
        storage_secret=secret,
        show_welcome_message=False,
        # One socket message per flush and page, a few hundred bytes each: deflating each took 30–40 µs
        # of the server's CPU, ~8 % of a page's cost per token at 30 tokens/s (bench/LOAD.md, session 11).
        ws_per_message_deflate=False,
        proxy_headers=False,  # PeerMiddleware applies X-Forwarded-* (TRUSTED_PROXIES), keeping the socket peer
        root_path=(settings.root_path if args.root_path is None else args.root_path).rstrip("/"),
        **({"log_config": None} if settings.log_format == "json" else {}),  # uvicorn's lines too, as JSON
    )


if __name__ == "__main__":
    main()
