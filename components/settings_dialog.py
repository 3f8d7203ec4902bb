"""App settings: defaults for new chats, and importing conversations from a JSON export.

An imported file is read whole, checked, then written in one transaction: a bad file imports nothing."""

from __future__ import annotations

from nicegui import events, ui

from components.steering_form import SteeringForm
from services.chat import ChatError, ChatService
from services.steering import Steering
from services.transfer import MAX_IMPORT_BYTES

TOO_LARGE = f"The file is too large to import (the limit is {MAX_IMPORT_BYTES // 2**20} MB)."


class SettingsDialog:
    """Built on demand and deleted when closed."""

    def __init__(self, chat: ChatService, owner: str, defaults: Steering, models: list[str]) -> None:
        self.chat, self.owner = chat, owner
        with ui.dialog().props("aria-label=Settings") as self.dialog, ui.card().classes("w-[36rem] max-w-full gap-3"):
            ui.label("Settings").classes("text-lg font-semibold")
            ui.label("Defaults for new chats").classes("font-medium").props("role=heading aria-level=2")
            ui.label("New conversations start with these. One conversation's own: Conversation settings.").classes(
                "text-sm"
            )
            self.defaults = SteeringForm(
                defaults, models=models, answer_cap=chat.answer_cap, default_prompt=chat.settings.system_prompt
            )
            with ui.row().classes("w-full items-center justify-between"):
                self.defaults_result = (
                    ui.label().classes("text-sm").props("aria-live=polite")
                )  # one role=status: import's
                ui.button("Save defaults", on_click=self._save_defaults).props("outline no-caps")
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

    @classmethod
    async def open_for(cls, chat: ChatService, owner: str) -> None:
        """Read first, then build: the form opens with what is stored."""
        try:
            defaults, models = await chat.defaults(owner), await chat.models()
        except ChatError as exc:
            ui.notify(str(exc), type="negative")
            return
        cls(chat, owner, defaults, models).dialog.open()

    async def _save_defaults(self) -> None:
        try:
            await self.chat.save_defaults(self.owner, self.defaults.value())
        except ChatError as exc:
            say(self.defaults_result, f"Not saved. {exc}", ok=False)
        else:
            say(self.defaults_result, "Saved. New chats start with these.", ok=True)

    async def _import(self, event: events.UploadEventArguments) -> None:
        try:
            if event.file.size() > MAX_IMPORT_BYTES:  # not read into memory at all
                raise ChatError(TOO_LARGE)
            count = await self.chat.import_conversations(self.owner, await event.file.read())
        except ChatError as exc:
            say(self.result, f"Nothing was imported. {exc}", ok=False)
        else:
            say(self.result, f"Imported {count} conversation{'s' if count != 1 else ''}.", ok=True)
        self.upload.reset()


def say(where: ui.label, text: str, *, ok: bool) -> None:
    where.set_text(text)
    where.classes(replace="text-sm " + ("text-positive" if ok else "text-negative"))
