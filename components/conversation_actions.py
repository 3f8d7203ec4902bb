"""A sidebar item's "Conversation actions" menu: Rename, Pin/Unpin, Export (Markdown, JSON), Share, Delete.

Each action goes through ChatService, which tells every tab of the owner (services/changes.py), so
this tab's sidebar and header refresh the same way another tab's do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from components.share_dialog import ShareDialog
from services.chat import ChatError, ChatService, Exported
from services.models import Conversation

Deleted = Callable[[list[str]], Awaitable[None]]


def download(exported: Exported) -> None:
    ui.download.content(exported.content.encode("utf-8"), exported.filename, exported.media_type)


def _item(text: str, on_click: Callable[[], Awaitable[None] | None], *, auto_close: bool = True) -> ui.menu_item:
    item = ui.menu_item(text, on_click=on_click, auto_close=auto_close).props("role=menuitem")
    return item.mark(f"conv-{text.lower()}")


class ConversationMenu:
    """The menu button of one sidebar item. Its menu is built on the first click, not with the list:
    a sidebar of 200 conversations with every menu built took seconds of event-loop time per refresh."""

    def __init__(self, chat: ChatService, owner: str, conv: Conversation, *, on_deleted: Deleted) -> None:
        self.chat, self.owner, self.conv, self.on_deleted = chat, owner, conv, on_deleted
        self.menu: ui.menu | None = None
        self.button = (
            ui.button(icon="more_horiz", on_click=self._open)
            .props("flat round dense size=sm aria-label='Conversation actions' aria-haspopup=menu")
            .mark("conversation-actions")
        )

    def _open(self) -> None:
        """Later clicks toggle the menu in the browser (it is the button's child by then)."""
        if self.menu is not None:
            return
        with self.button, ui.menu().props("role=menu") as self.menu:
            _item("Rename", self._rename)
            _item("Unpin" if self.conv.pinned else "Pin", self._pin)
            with (
                _item("Export", lambda: None, auto_close=False),
                ui.menu().props('anchor="top end" self="top start" role=menu'),
            ):
                _item("Markdown", lambda: self._export("markdown"))
                _item("JSON", lambda: self._export("json"))
            _item("Share", self._share)
            ui.separator()
            _item("Delete", self._delete).classes("text-negative")
        self.menu.open()

    async def _rename(self) -> None:
        await RenameDialog(self.chat, self.owner, self.conv).open()

    async def _pin(self) -> None:
        await _say_refusal(self.chat.pin(self.owner, self.conv.id, not self.conv.pinned))

    async def _export(self, fmt: str) -> None:
        if self.menu is not None:
            self.menu.close()  # a submenu item closes only its own menu
        try:
            download(await self.chat.export(self.owner, [self.conv.id], fmt))
        except ChatError as exc:
            ui.notify(str(exc), type="warning")

    async def _share(self) -> None:
        await ShareDialog(self.chat, self.owner, self.conv, self._export).open()

    async def _delete(self) -> None:
        question = f"Delete “{self.conv.title}”?"
        await confirm_delete(self.chat, self.owner, [self.conv.id], question, self.on_deleted)


async def _say_refusal(work: Awaitable[object]) -> bool:
    """Runs a workspace action; a refusal (gone, database busy) is shown in its own words."""
    try:
        await work
    except ChatError as exc:
        ui.notify(str(exc), type="warning", multi_line=True)
        return False
    return True


class RenameDialog:
    """Textbox "Title" and "Save"; a refused title stays in the box with the reason under it.

    Dialogs hang off the page layout, not the sidebar item: the sidebar is rebuilt on every change."""

    def __init__(self, chat: ChatService, owner: str, conv: Conversation) -> None:
        self.chat, self.owner, self.conv = chat, owner, conv
        with (
            ui.context.client.layout,
            ui.dialog().props("aria-label='Rename conversation'") as self.dialog,
            ui.card().classes("w-[28rem] max-w-full gap-3"),
        ):
            ui.label("Rename conversation").classes("text-lg font-semibold")
            self.title = (
                ui.input("Title", value=conv.title)
                .props("outlined autofocus aria-label=Title")
                .mark("title")
                .classes("w-full")
            )
            self.title.on("keydown.enter", self._save)
            self.title.on_value_change(lambda: self.title.props.update({"error": False}))
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
                ui.button("Save", on_click=self._save).props("unelevated no-caps")
        self.dialog.on("hide", self.dialog.delete)

    async def open(self) -> None:
        self.dialog.open()

    async def _save(self) -> None:
        try:
            await self.chat.rename(self.owner, self.conv.id, self.title.value or "")
        except ChatError as exc:
            self.title.props.update({"error": True, "error-message": str(exc)})
            return
        self.dialog.close()


async def confirm_delete(chat: ChatService, owner: str, ids: list[str], question: str, on_deleted: Deleted) -> bool:
    """One confirmation for one or many; a running answer in them is stopped first. True if deleted."""
    with ui.context.client.layout, ui.dialog() as dialog, ui.card().classes("w-[28rem] max-w-full gap-3"):
        dialog.props.update({"aria-label": question})  # a title may hold quotes: not through a props string
        ui.label(question).classes("text-lg font-semibold")
        ui.label("Its messages are deleted for good. Export first to keep a copy.").classes("text-sm")
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Delete", on_click=lambda: dialog.submit(True)).props("unelevated no-caps color=negative")
    dialog.on("hide", dialog.delete)
    if not await dialog:
        return False
    deleted: list[str] = []
    for conversation_id in ids:
        if await _say_refusal(chat.delete_conversation(owner, conversation_id, stop=True)):
            deleted.append(conversation_id)
    if deleted:
        await on_deleted(deleted)
    return len(deleted) == len(ids)
