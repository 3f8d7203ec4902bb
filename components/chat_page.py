"""The chat screen: sidebar, thread, composer; `/` starts a chat and `/c/<id>` opens one."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable

from nicegui import app, background_tasks, ui

from components.composer import Composer
from components.markdown_view import MarkdownView, add_markdown_assets
from components.message import AssistantMessage, UserMessage
from components.sidebar import Sidebar
from components.theme import add_theme
from services.chat import ChatError, Sent
from services.generation import Generation
from services.identity import UNREADABLE
from services.models import Message, Status
from services.runtime import AppContext

SWITCH_HELP = """
**Which model answers** is chosen at start-up, first match wins:

1. **Azure OpenAI** — set `AZURE_OPENAI_ENDPOINT` and `AZURE_OPENAI_DEPLOYMENT`. Keyless by default
   (Entra ID: run `az login`, or use a managed identity); set `AZURE_OPENAI_API_KEY` to use a key.
   `AZURE_OPENAI_API_VERSION` selects the classic API; leave it unset for the v1 API.
2. **OpenAI or a compatible server** (Ollama, vLLM, LM Studio, llama.cpp) — `OPENAI_BASE_URL`,
   `OPENAI_API_KEY`, `OPENAI_MODEL`.
3. **The embedded offline model** — nothing to set; `LOCAL_MODEL_PATH` picks another GGUF file.

Put the variables in a `.env` file next to `app.py` (see `.env.example`) and restart the app.
"""


def register_pages(ctx: AppContext) -> None:
    @ui.page("/", title="streamchat")
    async def index() -> None:
        await ChatPage(ctx, None).build()

    @ui.page("/c/{conversation_id}", title="streamchat")
    async def conversation(conversation_id: str) -> None:
        await ChatPage(ctx, conversation_id).build()


def _preload_components() -> ui.element:
    """Put the JS of the elements a first answer needs into the page itself.

    NiceGUI otherwise fetches a component's module when its first element appears, i.e. while the
    first tokens of the first answer arrive; measured, that made them late by hundreds of ms."""
    with ui.element().classes("hidden") as holder:
        MarkdownView()
        ui.link()
        ui.timer(3600, lambda: None, active=False)
    return holder


class ChatPage:
    """One browser tab; everything it shows is read with its owner's id."""

    def __init__(self, ctx: AppContext, conversation_id: str | None) -> None:
        self.ctx = ctx
        # api.identity keeps NiceGUI's session id equal to the durable identity cookie's owner id.
        self.owner: str = app.storage.browser["id"]
        self.conversation_id = conversation_id
        self.selected: dict[int, int] = {}  # question id -> shown answer version id
        self.views: dict[int, AssistantMessage] = {}
        self.active: int | None = None  # message id of the answer being generated
        self.followed: weakref.WeakSet[Generation] = weakref.WeakSet()
        self.welcome: ui.element | None = None
        # Held while this tab starts an answer or rebuilds the thread, so news from another tab waits its turn.
        self.busy = asyncio.Lock()
        self.catch_ups: set[asyncio.Task[None]] = set()  # cancelled when the tab goes away

    async def build(self) -> None:
        add_theme()
        add_markdown_assets()
        ui.dark_mode().bind_value(app.storage.user, "dark")
        self._header()
        if getattr(ui.context.client.request.state, UNREADABLE, False):
            self._identity_lost_banner()
        self.sidebar = Sidebar(self.ctx.store, self.owner, self.conversation_id)
        self.thread = ui.column().classes("thread").props("aria-label=Conversation role=log")
        with ui.footer().classes("app-footer"):
            self.composer = Composer(self._send, self._stop, self.conversation_id)
        missing = False
        if self.conversation_id is not None:
            missing = await self.ctx.store.get_conversation(self.owner, self.conversation_id) is None
        if missing:
            with self.thread:
                ui.label("This conversation does not exist, or it is not yours.").classes("welcome")
            self.composer.set_visibility(False)
        else:
            await self._render_thread()
        await self.sidebar.refresh()
        preloaded = _preload_components()
        client = ui.context.client
        await client.connected()
        if client.is_deleted:  # never connected (a health check's plain GET) and pruned by NiceGUI
            return
        preloaded.delete()
        self.composer.restore_draft()
        self._attach_running()
        client.on_delete(self._cancel_catch_ups)
        client.on_delete(self.ctx.hub.watch(self.owner, self._started_elsewhere))
        if self.conversation_id is not None:  # started by another tab while this one was loading?
            for gen in self.ctx.hub.for_conversation(self.owner, self.conversation_id):
                self._started_elsewhere(gen)  # a no-op for the ones just attached

    def _header(self) -> None:
        with ui.header().classes("app-header items-center justify-between"):
            with ui.row().classes("items-center gap-2"):
                ui.button(icon="menu", on_click=lambda: self.sidebar.drawer.toggle()).props(
                    "flat round dense aria-label='Toggle sidebar'"
                )
                ui.label("streamchat").classes("text-lg font-semibold")
                ui.button(self.ctx.backend.label, icon="smart_toy", on_click=self._show_switch_help).props(
                    "flat dense no-caps data-testid=model-label"
                ).classes("model-chip").tooltip("Which model answers, and how to switch")
            with ui.row().classes("items-center gap-2"):
                app.storage.user.setdefault("stream", True)
                self.stream_switch = ui.switch("Stream responses").bind_value(app.storage.user, "stream")
                ui.button(icon="dark_mode", on_click=self._toggle_dark).props("flat round dense aria-label='Dark mode'")

    def _identity_lost_banner(self) -> None:
        """Say so when this browser's identity could not be read, rather than silently showing an empty app."""
        look = "identity-lost items-center gap-2 no-wrap max-w-3xl mx-auto my-2 p-3 rounded bg-amber-100 text-amber-950"
        with ui.row().classes(look).props("role=alert"):
            ui.icon("warning", color="warning")
            ui.label(
                "This browser's saved identity could not be verified (the server's STORAGE_SECRET may have "
                "changed), so your earlier conversations are not shown. New conversations are saved under a "
                "new identity; ask the operator to restore the previous secret to get the old ones back."
            )

    def _toggle_dark(self) -> None:
        app.storage.user["dark"] = not app.storage.user.get("dark", False)

    def _show_switch_help(self) -> None:
        with ui.dialog() as dialog, ui.card().classes("max-w-xl"):
            ui.label(f"Answering now: {self.ctx.backend.label}").classes("font-semibold")
            ui.markdown(SWITCH_HELP)
            ui.button("Close", on_click=dialog.close).props("flat")
        dialog.open()

    # thread --------------------------------------------------------------------------------

    async def _render_thread(self) -> None:
        messages = await self.ctx.store.list_messages(self.owner, self.conversation_id) if self.conversation_id else []
        self.thread.clear()
        self.views.clear()
        self.welcome = None
        answers: dict[int, list[Message]] = {}
        for m in messages:
            if m.role == "assistant" and m.reply_to is not None:
                answers.setdefault(m.reply_to, []).append(m)
        questions = [m for m in messages if m.role == "user"]
        with self.thread:
            if not questions:
                self._welcome()
            for q in questions:
                UserMessage(q)
                versions = answers.get(q.id or -1, [])
                if versions:
                    chosen = next((v for v in versions if v.id == self.selected.get(q.id or -1)), versions[-1])
                    self._add_answer(chosen, versions, is_last=q is questions[-1])

    def _welcome(self) -> None:
        with ui.column().classes("welcome items-center") as self.welcome:
            ui.label("What can I help with?").classes("text-2xl font-semibold")
            ui.label(f"Answering: {self.ctx.backend.label}").classes("text-sm")

    def _add_answer(self, message: Message, versions: list[Message], is_last: bool) -> AssistantMessage:
        view = AssistantMessage(
            message,
            versions=versions,
            is_last=is_last,
            on_retry=self._retry,
            on_regenerate=self._regenerate,
            on_version=self._show_version,
        )
        assert message.id is not None
        self.views[message.id] = view
        return view

    def _attach_running(self) -> None:
        """After a reload or in a second tab: join answers that are still being generated."""
        for message_id, view in self.views.items():
            if view.message.status != Status.STREAMING:
                continue
            gen = self.ctx.hub.get(self.owner, message_id)
            if gen is not None:
                self._follow(view, gen)
            else:  # it ended between reading the rows and now: show the final row
                ui.timer(0, self._render_thread, once=True)

    def _follow(self, view: AssistantMessage, gen: Generation) -> None:
        self.followed.add(gen)
        self.active = gen.message_id
        self.composer.set_generating(True)
        view.attach(gen, on_final=lambda: self._finished(gen.message_id))

    def _finished(self, message_id: int) -> None:
        if self.active == message_id:
            self.active = None
            self.composer.set_generating(False)

    # actions -------------------------------------------------------------------------------

    def _started_elsewhere(self, gen: Generation) -> None:
        """An answer of this owner started (maybe in another tab): refresh what this tab shows of it."""
        task = background_tasks.create(self._catch_up(gen), name="catch up with another tab")
        self.catch_ups.add(task)
        task.add_done_callback(self.catch_ups.discard)

    def _cancel_catch_ups(self) -> None:
        """The tab closed: a catch-up waiting on the database must not go on to touch deleted elements."""
        for task in list(self.catch_ups):
            task.cancel()

    async def _catch_up(self, gen: Generation) -> None:
        async with self.busy:
            if self.thread.is_deleted or gen in self.followed:
                return  # the tab is gone, or it already shows this answer (it started it)
            with self.thread:
                if gen.conversation_id == self.conversation_id:
                    await self._render_thread()
                    self._attach_running()
                await self.sidebar.refresh()

    async def _send(self, text: str) -> bool:
        async with self.busy:
            try:
                sent = await self.ctx.chat.send(self.owner, self.conversation_id, text, stream=self._streaming())
            except ChatError as exc:
                ui.notify(str(exc), type="warning")
                return False
            if self.conversation_id != sent.conversation.id:
                self.conversation_id = sent.conversation.id
                self.sidebar.set_current(sent.conversation.id)
                self.composer.conversation_id = sent.conversation.id
                ui.navigate.history.replace(f"/c/{sent.conversation.id}")
            self._show_sent(sent)
        await self.sidebar.refresh()
        return True

    def _show_sent(self, sent: Sent) -> None:
        if self.welcome is not None:
            self.welcome.delete()
            self.welcome = None
        for view in self.views.values():
            view.set_last(False)
        with self.thread:
            if sent.user_message is not None:
                UserMessage(sent.user_message)
            view = self._add_answer(sent.assistant_message, [sent.assistant_message], is_last=True)
        self._follow(view, sent.generation)

    def _stop(self) -> None:
        if self.active is not None:
            self.ctx.chat.stop(self.owner, self.active)

    def _streaming(self) -> bool:
        return bool(self.stream_switch.value)

    async def _retry(self, message: Message) -> None:
        await self._rerun(lambda: self.ctx.chat.retry(self.owner, message.id or -1, stream=self._streaming()))

    async def _regenerate(self, message: Message) -> None:
        if message.reply_to is not None:
            self.selected.pop(message.reply_to, None)
        await self._rerun(lambda: self.ctx.chat.regenerate(self.owner, message.id or -1, stream=self._streaming()))

    async def _rerun(self, action: Callable[[], Awaitable[Sent]]) -> None:
        async with self.busy:
            try:
                sent = await action()
            except ChatError as exc:
                ui.notify(str(exc), type="warning")
                return
            await self._render_thread()
            view = self.views.get(sent.assistant_message.id or -1)
            if view is not None:
                self._follow(view, sent.generation)

    async def _show_version(self, message: Message) -> None:
        if message.reply_to is not None and message.id is not None:
            self.selected[message.reply_to] = message.id
        async with self.busy:
            await self._render_thread()
            self._attach_running()
