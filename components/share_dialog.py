"""The "Share conversation" dialog: a read-only link for the team, or, in browser mode, an export.

Dialogs hang off the page layout, not the sidebar item: the sidebar is rebuilt on every change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from nicegui import ui

from components.paths import app_url
from services.chat import NO_SHARING, ChatError, ChatService
from services.models import Conversation

Export = Callable[[str], Awaitable[None]]


def share_url(token: str) -> str:
    """Absolute, as the browser reached us (behind a proxy too: uvicorn takes the forwarded scheme)."""
    url = ui.context.client.request.url
    return f"{url.scheme}://{url.netloc}{app_url(f'/share/{token}')}"


class ShareDialog:
    def __init__(self, chat: ChatService, owner: str, conv: Conversation, export: Export) -> None:
        self.chat, self.owner, self.conv = chat, owner, conv
        with (
            ui.context.client.layout,
            ui.dialog().props("aria-label='Share conversation'") as self.dialog,
            ui.card().classes("w-[32rem] max-w-full gap-3"),
        ):
            ui.label("Share conversation").classes("text-lg font-semibold")
            self.body = ui.column().classes("w-full gap-3")
            if not chat.settings.team_mode:
                with self.body:
                    ui.label(NO_SHARING).classes("text-sm")
                    with ui.row().classes("gap-2"):
                        for fmt, label in (("markdown", "Markdown"), ("json", "JSON")):
                            ui.button(label, icon="download", on_click=partial(export, fmt)).props("outline no-caps")
            with ui.row().classes("w-full justify-end"):
                ui.button("Close", on_click=self.dialog.close).props("flat no-caps")
        self.dialog.on("hide", self.dialog.delete)

    async def open(self) -> None:
        if self.chat.settings.team_mode:
            self._show(await self.chat.share_token(self.owner, self.conv.id))
        self.dialog.open()

    def _show(self, token: str | None) -> None:
        self.body.clear()
        with self.body:
            if token is None:
                note = "No link yet. A link lets anyone signed in to this deployment read this conversation."
                ui.label(note).classes("text-sm")
                ui.button("Create link", icon="link", on_click=self._create).props("unelevated no-caps")
                return
            url = share_url(token)
            ui.input("Link", value=url).props("outlined readonly").classes("w-full").mark("share-url")
            ui.label(
                "Anyone signed in to this deployment can open it, read-only. It shows the conversation as it is "
                "when they open it, later messages included, until you revoke it."
            ).classes("text-sm")
            with ui.row().classes("gap-2"):
                copy = ui.button("Copy link", icon="content_copy", on_click=lambda: self._copy(url))
                copy.props("unelevated no-caps")
                revoke = ui.button("Revoke link", icon="link_off", on_click=self._revoke)
                revoke.props("outline no-caps color=negative")

    async def _create(self) -> None:
        try:
            self._show(await self.chat.share(self.owner, self.conv.id))
        except ChatError as exc:
            ui.notify(str(exc), type="warning")

    async def _revoke(self) -> None:
        try:
            await self.chat.unshare(self.owner, self.conv.id)
        except ChatError as exc:
            ui.notify(str(exc), type="warning")
            return
        ui.notify("The link no longer works.", type="info")  # before _show deletes this button's slot
        self._show(None)

    def _copy(self, url: str) -> None:
        ui.clipboard.write(url)
        ui.notify("Link copied.")
