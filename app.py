"""streamchat: wires settings, services and pages, then serves the NiceGUI app."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

from services.settings import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="streamchat — a streaming chat UI")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    settings.streamchat_data_dir.mkdir(parents=True, exist_ok=True)
    # NiceGUI reads this at import: per-user preferences live beside the database.
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str((settings.streamchat_data_dir / "nicegui").resolve()))

    from nicegui import Client, app, ui

    from components.chat_page import register_pages
    from services.runtime import build_context, storage_secret

    try:
        ctx = build_context(settings)
    except FileNotFoundError as exc:  # e.g. LOCAL_MODEL_PATH pointing nowhere: say so, no traceback
        raise SystemExit(f"streamchat: {exc}") from None
    logging.getLogger("streamchat").info("answering with %s", ctx.backend.label)
    register_pages(ctx)

    @app.get("/api/stats")
    async def stats() -> dict[str, int]:
        """Counts only (no content): lets operators and the leak test see that nothing piles up."""
        return {**ctx.hub.stats(), "clients": len(Client.instances), "tasks": len(asyncio.all_tasks())}

    app.on_shutdown(ctx.close)
    ui.run(
        host=args.host,
        port=args.port,
        show=not args.no_browser,
        reload=False,
        title="streamchat",
        favicon="💬",
        storage_secret=storage_secret(settings),
        show_welcome_message=False,
    )


if __name__ == "__main__":
    main()
