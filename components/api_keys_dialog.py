"""The signed-in user's own API keys: create one (shown once, to copy), see when each was used, revoke.

Keys made here act as this browser's user, so scripts see the same conversations as the page.
The key itself lives only in this dialog until it is closed: the server keeps its hash.
"""

from __future__ import annotations

import asyncio

from nicegui import ui

from services.api_keys import ApiKeys, KeyInfo

HELP = (
    "Scripts and tools use the app as you with `Authorization: Bearer <key>`: the HTTP API under "
    "`/api/v1` and the OpenAI-compatible `/v1` (base URL for OpenAI SDKs). Docs: [/api/docs](/api/docs)."
)


def _when(info: KeyInfo) -> str:
    used = f"used {info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never used"
    return f"{info.prefix}… · created {info.created_at:%Y-%m-%d} · {used}"


class ApiKeysDialog:
    """Built on demand; calls into `ApiKeys` off the event loop (each is a small SQL transaction)."""

    def __init__(self, keys: ApiKeys, owner: str) -> None:
        self.keys, self.owner = keys, owner
        with ui.dialog().props("aria-label='API keys'") as self.dialog, ui.card().classes("w-[40rem] max-w-full gap-3"):
            ui.label("API keys").classes("text-lg font-semibold")
            ui.markdown(HELP).classes("text-sm")
            with ui.row().classes("w-full items-center no-wrap"):
                self.name = (
                    ui.input("Key name").props("dense outlined aria-label='Key name'").classes("grow").mark("key-name")
                )
                ui.button("Create key", icon="add", on_click=self._create).props("unelevated no-caps")
            self.created = ui.column().classes("w-full gap-1")
            self.rows = ui.column().classes("w-full gap-1").props("role=list aria-label='Your API keys'")
            with ui.row().classes("w-full justify-end"):
                ui.button("Close", on_click=self.dialog.close).props("flat no-caps")
        self.dialog.on("hide", self.dialog.delete)  # the plain key leaves the page with the dialog

    async def open(self) -> None:
        await self._refresh()
        self.dialog.open()

    async def _create(self) -> None:
        key, _ = await asyncio.to_thread(self.keys.create, self.owner, (self.name.value or "").strip())
        self.name.value = ""
        self.created.clear()
        with self.created, ui.column().classes("w-full gap-1 p-3 rounded bg-amber-50 text-amber-950"):
            ui.label("Copy this key now: it is not shown again.").classes("text-sm font-medium")
            with ui.row().classes("w-full items-center no-wrap"):
                ui.input("New API key", value=key).props("readonly dense outlined aria-label='New API key'").classes(
                    "grow font-mono"
                ).mark("new-key")
                ui.button("Copy key", icon="content_copy", on_click=lambda: ui.clipboard.write(key)).props(
                    "flat no-caps"
                )
        await self._refresh()

    async def _refresh(self) -> None:
        keys = await asyncio.to_thread(self.keys.list, self.owner)
        self.rows.clear()
        with self.rows:
            if not keys:
                ui.label("No keys yet.").classes("text-sm opacity-60").props("role=listitem")
            for info in reversed(keys):  # newest first
                with ui.row().classes("w-full items-center no-wrap gap-2").props("role=listitem"):
                    with ui.column().classes("grow gap-0"):
                        ui.label(info.name or "Unnamed key").classes("font-medium")
                        ui.label(_when(info)).classes("text-xs opacity-70 font-mono")
                    if info.revoked:
                        ui.label("Revoked").classes("text-xs opacity-70")
                    else:
                        ui.button("Revoke", on_click=lambda i=info: self._revoke(i)).props(
                            f"flat dense no-caps color=negative aria-label='Revoke {info.name or info.prefix}'"
                        )

    async def _revoke(self, info: KeyInfo) -> None:
        await asyncio.to_thread(self.keys.revoke, info.id, self.owner)
        await self._refresh()
