"""The conversation list: grouped by day (pinned first), the open one highlighted, each with its actions
menu, and a select mode to delete or export several at once; typing in the search box shows search
results (titles and message text) instead."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from nicegui import ui

from components.conversation_actions import ConversationMenu, confirm_delete, download
from components.keyed_list import Entry, KeyedList
from components.search_results import add_search_assets, show_results
from services import groups
from services.chat import ChatError, ChatService
from services.models import Conversation
from services.search import MAX_QUERY_CHARS

CSS = """
.sidebar .conv-group { font-size: .75rem; font-weight: 600; opacity: .65; padding: .9rem .6rem .25rem; }
.sidebar .conv-row .q-btn { opacity: .55; }
.sidebar .conv-row:hover .q-btn, .sidebar .conv-row .q-btn:focus-visible { opacity: 1; }
.sidebar .conv-item { min-width: 0; }
"""


class Sidebar:
    """Reads through ChatService with the page's owner, so it only ever lists that user's chats.

    `on_deleted` hears the ids this tab deleted (the page leaves one that is open); `on_title` the
    open conversation's title after each refresh."""

    def __init__(
        self,
        chat: ChatService,
        owner: str,
        current_id: str | None,
        *,
        on_deleted: Callable[[list[str]], Awaitable[None]],
        on_title: Callable[[str], None],
        time_zone: str | None = None,
    ) -> None:
        self.chat, self.owner, self.current_id = chat, owner, current_id
        self.on_deleted, self.on_title = on_deleted, on_title
        self.tz = groups.zone(time_zone)
        self.selecting = False
        self.chosen: dict[str, Conversation] = {}  # in select mode: the ticked ones, by id
        ui.add_css(CSS)
        add_search_assets()
        with (
            # show-if-above: open on wide screens, a closed drawer on phones. Not NiceGUI's value=None,
            # which asks the browser for the state on every connect and logs a timeout when it is slow.
            ui.left_drawer(value=False, bordered=True)
            .classes("sidebar")
            .props("width=280 breakpoint=760 show-if-above") as self.drawer
        ):
            ui.button("New chat", icon="add", on_click=lambda: ui.navigate.to("/")).props(
                "unelevated no-caps aria-label='New chat'"
            ).classes("w-full")
            with ui.row().classes("w-full items-center no-wrap gap-1"):
                self.search = (
                    ui.input(placeholder="Search conversations")
                    .props("dense outlined clearable debounce=250 aria-label='Search conversations'")
                    .props(f"maxlength={MAX_QUERY_CHARS}")
                    .classes("grow search-box")
                )
                self.select_button = ui.button("Select", on_click=self._toggle_select).props(
                    "flat dense no-caps aria-pressed=false"
                )
            self.search.on_value_change(self.refresh)
            with ui.row().classes("w-full items-center no-wrap gap-1 select-bar") as self.select_bar:
                self.count = ui.label().classes("grow text-sm").props("aria-live=polite")
                ui.button("Export", icon="download", on_click=self._export_chosen).props(
                    "flat dense no-caps aria-label='Export selected'"
                )
                ui.button("Delete", icon="delete", on_click=self._delete_chosen).props(
                    "flat dense no-caps color=negative aria-label='Delete selected'"
                )
            self.select_bar.set_visibility(False)
            self.items = ui.column().classes("w-full gap-0 conv-list").props("role=navigation aria-label=Conversations")
            self.list = KeyedList(self.items)

    def set_time_zone(self, name: str | None) -> None:
        self.tz = groups.zone(name)

    async def refresh(self) -> None:
        query = (self.search.value or "").strip()
        if query and not self.selecting:
            await self._show_search(query)
            return
        conversations = await self.chat.conversations(self.owner, query=query)  # select mode: titles only
        listed = {c.id: c for c in conversations}
        self.chosen = {i: listed[i] for i in self.chosen if i in listed}
        self.on_title(listed[self.current_id].title if self.current_id in listed else "")
        entries: list[Entry] = []
        for heading, convs in groups.group(conversations, datetime.now(UTC), self.tz):
            entries.append((("group", heading), None, functools.partial(self._heading, heading)))
            for conv in convs:
                shows = (conv.title, conv.pinned, conv.id == self.current_id, self.selecting, conv.id in self.chosen)
                entries.append((conv.id, shows, functools.partial(self._item, conv)))
        if not conversations:
            note = "No match." if query else "No conversations yet."
            entries.append((("note", note), None, lambda: ui.label(note).classes("text-sm opacity-60 p-2")))
        self.list.show(entries)
        self._show_count()

    async def _show_search(self, query: str) -> None:
        """Titles and messages with the words typed (the list comes back when the box is cleared)."""
        try:
            hits = await self.chat.search(self.owner, query)
        except ChatError as exc:
            ui.notify(str(exc), type="warning")
            return
        if (self.search.value or "").strip() != query:
            return  # typed on meanwhile: the newer query's refresh shows its own results
        self.list.clear()
        with self.items:
            show_results(hits, query)

    @staticmethod
    def _heading(heading: str) -> ui.label:
        return ui.label(heading).classes("conv-group").props("role=heading aria-level=2")

    def _item(self, conv: Conversation) -> ui.row:
        with ui.row().classes("w-full items-center no-wrap gap-0 conv-row") as row:
            if self.selecting:
                box = ui.checkbox(value=conv.id in self.chosen, on_change=lambda e, c=conv: self._choose(c, e.value))
                box.props("dense").props["aria-label"] = f"Select {conv.title}"
            link = ui.link(conv.title, f"/c/{conv.id}").classes("conv-item grow")
            if conv.id == self.current_id:
                link.classes("conv-item-active").props("aria-current=page")
            if conv.pinned:
                ui.icon("push_pin", size="xs").classes("opacity-50").props("aria-hidden=true")
            ConversationMenu(self.chat, self.owner, conv, on_deleted=self.on_deleted)
        return row

    def set_current(self, conversation_id: str) -> None:
        self.current_id = conversation_id

    # select mode ---------------------------------------------------------------------------

    async def _toggle_select(self) -> None:
        self.selecting = not self.selecting
        self.chosen.clear()
        self.select_button.set_text("Done" if self.selecting else "Select")
        self.select_button.props(f"aria-pressed={str(self.selecting).lower()}")
        self.select_bar.set_visibility(self.selecting)
        await self.refresh()

    def _choose(self, conv: Conversation, ticked: bool) -> None:
        if ticked:
            self.chosen[conv.id] = conv
        else:
            self.chosen.pop(conv.id, None)
        self._show_count()

    def _show_count(self) -> None:
        n = len(self.chosen)
        self.count.set_text(f"{n} selected" if n else "Tick conversations")

    async def _export_chosen(self) -> None:
        if not self.chosen:
            ui.notify("Tick the conversations to export first.", type="info")
            return
        try:
            download(await self.chat.export(self.owner, list(self.chosen)))
        except ChatError as exc:
            ui.notify(str(exc), type="warning")

    async def _delete_chosen(self) -> None:
        if not self.chosen:
            ui.notify("Tick the conversations to delete first.", type="info")
            return
        ids = list(self.chosen)
        n = len(ids)
        question = f"Delete {n} conversation{'s' if n > 1 else ''}?"
        if await confirm_delete(self.chat, self.owner, ids, question, self.on_deleted):
            self.chosen.clear()
            await self.refresh()
