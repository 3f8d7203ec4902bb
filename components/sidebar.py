"""The conversation list: newest first, searchable, the open one highlighted."""

from __future__ import annotations

from nicegui import ui

from services.chat import ChatService


class Sidebar:
    """Reads through ChatService with the page's owner, so it only ever lists that user's chats."""

    def __init__(self, chat: ChatService, owner: str, current_id: str | None) -> None:
        self.chat, self.owner, self.current_id = chat, owner, current_id
        with (
            ui.left_drawer(value=None, bordered=True)  # None: open on wide screens, a closed drawer on phones
            .classes("sidebar")
            .props("width=280 breakpoint=760") as self.drawer
        ):
            ui.button("New chat", icon="add", on_click=lambda: ui.navigate.to("/")).props(
                "unelevated no-caps aria-label='New chat'"
            ).classes("w-full")
            self.search = (
                ui.input(placeholder="Search conversations")
                .props("dense outlined clearable debounce=250 aria-label='Search conversations'")
                .classes("w-full")
            )
            self.search.on_value_change(self.refresh)
            self.items = ui.column().classes("w-full gap-0 conv-list").props("role=navigation aria-label=Conversations")

    async def refresh(self) -> None:
        query = (self.search.value or "").strip()
        conversations = await self.chat.conversations(self.owner, query=query)
        self.items.clear()
        with self.items:
            for conv in conversations:
                link = ui.link(conv.title, f"/c/{conv.id}").classes("conv-item")
                if conv.id == self.current_id:
                    link.classes("conv-item-active").props("aria-current=page")
            if not conversations:
                ui.label("No match." if query else "No conversations yet.").classes("text-sm opacity-60 p-2")

    def set_current(self, conversation_id: str) -> None:
        self.current_id = conversation_id
