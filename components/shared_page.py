"""`/share/<token>`: a conversation opened through its share link, read-only, for anyone signed in.

No composer, no actions: the reader sees the thread as its owner sees it now. Answers are the same
sanitized HTML the owner's page shows; one still being written shows the text saved so far."""

from __future__ import annotations

from nicegui import app, ui
from nicegui.elements.mixins.text_element import TextElement

from components.markdown_view import MarkdownView, add_markdown_assets
from components.message import UserMessage
from components.paths import app_url
from components.theme import add_theme
from services.chat import ChatService, NotFound, Shared
from services.models import Role, Status


async def shared_page(chat: ChatService, token: str) -> None:
    add_theme()
    add_markdown_assets()
    ui.dark_mode().bind_value(app.storage.user, "dark")
    with ui.header().classes("app-header items-center justify-between"):
        TextElement(tag="h1", text="streamchat").classes("text-lg font-semibold m-0")
        ui.link("Open your chats", app_url("/")).classes("text-sm")
    with ui.column().classes("thread").props("role=main aria-label='Shared conversation'"):
        try:
            shared = await chat.shared(token)
        except NotFound as exc:
            ui.label(str(exc)).classes("welcome text-lg").props("data-testid=share-gone")
            return
        _show(shared)


def _show(shared: Shared) -> None:
    TextElement(tag="h2", text=shared.title).classes("text-xl font-semibold m-0")
    by = f"Shared by {shared.sharer}" if shared.sharer else "Shared"
    ui.label(f"{by} · read-only").classes("text-sm opacity-80").props("data-testid=share-by")
    for turn in shared.thread.turns:
        UserMessage(turn.question)
        answer = turn.answer
        if answer is None:
            continue
        with (
            ui.element("div")
            .classes("msg msg-assistant w-full")
            .props(f"data-role={Role.ASSISTANT} data-status={answer.status} data-message-id={answer.id}")
        ):
            view = MarkdownView(answer.content, html=turn.html, reveal=False)
            if turn.html is None:
                view.finish()
            if answer.status == Status.STREAMING:
                ui.label("Still being written: reload for more.").classes("text-sm opacity-70")
            elif answer.error:
                ui.label(answer.error).classes("text-sm text-negative")
