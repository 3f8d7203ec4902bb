"""App settings: for now, importing conversations from a JSON export (Export → JSON in any tab).

The file is read whole, checked, then written in one transaction: a bad file imports nothing."""

from __future__ import annotations

from nicegui import events, ui

from services.chat import ChatError, ChatService
from services.transfer import MAX_IMPORT_BYTES

TOO_LARGE = f"The file is too large to import (the limit is {MAX_IMPORT_BYTES // 2**20} MB)."


class SettingsDialog:
    """Built on demand and deleted when closed."""

    def __init__(self, chat: ChatService, owner: str) -> None:
        self.chat, self.owner = chat, owner
        with ui.dialog().props("aria-label=Settings") as self.dialog, ui.card().classes("w-[32rem] max-w-full gap-3"):
            ui.label("Settings").classes("text-lg font-semibold")
            ui.label("Import conversations").classes("font-medium").props("role=heading aria-level=2")
            ui.label("Choose a JSON file made with Export → JSON. Imported conversations are added to yours.").classes(
                "text-sm"
            )
            self.upload = (
                ui.upload(
                    label="Import conversations",
                    auto_upload=True,
                    on_upload=self._import,
                )
                .props("accept=.json,application/json")
                .classes("hidden")  # Quasar's uploader nests its file input in an unnamed link-button
            )
            # Opens the file picker in the click itself (browsers allow it only during the gesture).
            ui.button("Import conversations", icon="upload_file").props("outline no-caps").on(
                "click", js_handler=f"(e) => getElement({self.upload.id}).$refs.qRef.pickFiles(e)"
            )
            self.result = ui.label().classes("text-sm").props("role=status")
            with ui.row().classes("w-full justify-end"):
                ui.button("Close", on_click=self.dialog.close).props("flat no-caps")
        self.dialog.on("hide", self.dialog.delete)

    def open(self) -> None:
        self.dialog.open()

    async def _import(self, event: events.UploadEventArguments) -> None:
        try:
            if event.file.size() > MAX_IMPORT_BYTES:  # not read into memory at all
                raise ChatError(TOO_LARGE)
            count = await self.chat.import_conversations(self.owner, await event.file.read())
        except ChatError as exc:
            self._say(f"Nothing was imported. {exc}", ok=False)
        else:
            self._say(f"Imported {count} conversation{'s' if count != 1 else ''}.", ok=True)
        self.upload.reset()

    def _say(self, text: str, *, ok: bool) -> None:
        self.result.set_text(text)
        self.result.classes(replace="text-sm " + ("text-positive" if ok else "text-negative"))
