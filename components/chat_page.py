"""The chat screen: sidebar, thread, composer; `/` starts a chat and `/c/<id>` opens one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

from nicegui import app, background_tasks, ui
from nicegui.elements.mixins.text_element import TextElement

from components.account import AccountButton
from components.announcer import Announcer
from components.api_keys_dialog import ApiKeysDialog
from components.composer import Composer
from components.conversation_settings import open_conversation_settings
from components.load_earlier import LoadEarlier
from components.markdown_view import MarkdownView, add_markdown_assets
from components.message import AssistantMessage, UserMessage
from components.paths import app_url
from components.search_results import reveal
from components.settings_dialog import SettingsDialog
from components.shared_page import shared_page
from components.shortcuts import add_shortcuts, show_shortcuts
from components.sidebar import Sidebar
from components.theme import add_theme
from services.api_keys import ApiKeys
from services.changes import Changed
from services.chat import ChatError, ChatService, NotFound, Sent, Thread
from services.events import Started
from services.identity import EARLIER_BROWSER_ID, UNREADABLE
from services.models import Message, Status
from services.steering import Steering, summary
from services.users import SIGNED_IN

log = logging.getLogger(__name__)

# A page of the thread: the newest turns on opening, then older ones as the reader scrolls up. Small
# enough that building its elements stays well under 100 ms on the event loop and the browser shows
# it fast: at most this many turns, and past the first, at most this much text.
PAGE_TURNS = 20
PAGE_CHARS = 10_000


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


# On a phone the on-screen keyboard shrinks the layout viewport (Chrome's default only shrinks the
# visual one), so the fixed composer stays above the keyboard instead of behind it.
VIEWPORT = "width=device-width, initial-scale=1, interactive-widget=resizes-content"


def register_pages(chat: ChatService, keys: ApiKeys, sign_out: str | None = None) -> None:
    """Pages reach the app through `chat` only (DESIGN.md "One door"); `keys` serves the API keys dialog;
    `sign_out` is the sign-out route when there is one (AUTH_MODE=oidc)."""

    @ui.page("/", title="streamchat", viewport=VIEWPORT)
    async def index() -> None:
        await ChatPage(chat, keys, None, sign_out).build()

    @ui.page("/share/{token}", title="Shared conversation · streamchat", viewport=VIEWPORT)
    async def shared(token: str) -> None:
        await shared_page(chat, token)

    @ui.page("/c/{conversation_id}", title="streamchat", viewport=VIEWPORT)
    async def conversation(conversation_id: str, m: str = "") -> None:
        """`?m=<message id>` (a search result): open the thread at that message and show it."""
        focus = int(m) if m.isdigit() else None
        await ChatPage(chat, keys, conversation_id, sign_out, focus=focus).build()


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

    def __init__(
        self,
        chat: ChatService,
        keys: ApiKeys,
        conversation_id: str | None,
        sign_out: str | None = None,
        *,
        focus: int | None = None,
    ) -> None:
        self.chat, self.keys, self.sign_out = chat, keys, sign_out
        self.focus = focus  # a message to scroll to and mark once the page is shown
        # api.identity (browser mode) or api.signin (header/oidc) keeps NiceGUI's session id equal to the
        # owner id: the identity cookie's, or the signed-in user's row id.
        self.owner: str = app.storage.browser["id"]
        self.conversation_id = conversation_id
        self.selected: dict[int, int] = {}  # question id -> shown answer version id
        self.views: dict[int, AssistantMessage] = {}
        self.active: int | None = None  # message id of the answer being generated
        self.followed: set[int] = set()  # runs (`Started.run`) this tab shows: live, or read after it started them
        self.welcome: ui.element | None = None
        self.oldest: int | None = None  # id of the oldest question shown; older ones load on demand
        self.earlier: LoadEarlier | None = None
        # Held while this tab starts an answer or rebuilds the thread, so news from another tab waits its turn.
        self.busy = asyncio.Lock()
        self.catch_ups: set[asyncio.Task[None]] = set()  # cancelled when the tab goes away

    async def build(self) -> None:
        add_theme()
        add_markdown_assets()
        add_shortcuts()
        ui.dark_mode().bind_value(app.storage.user, "dark")
        self._header()
        if getattr(ui.context.client.request.state, UNREADABLE, False):
            self._identity_lost_banner()
        self.sidebar = Sidebar(
            self.chat,
            self.owner,
            self.conversation_id,
            on_deleted=self._deleted_here,
            on_title=self._show_title,
            time_zone=app.storage.user.get("tz"),
        )
        # Not a live region: it would read every reveal step. The announcer says finished sentences.
        self.announcer = Announcer()
        # What this conversation is answered with, when it is not the defaults; a click opens its settings.
        self.steering_line = (
            ui.button(on_click=self._open_conversation_settings)
            .props("flat dense no-caps icon=tune data-testid=conversation-steering")
            .classes("steering-line")
        )
        await self._show_steering()
        self.thread = ui.column().classes("thread").props("role=region aria-label=Conversation")
        with ui.footer().classes("app-footer"):
            self.composer = Composer(self._send, self._stop, self.conversation_id)
        await self._render_thread()
        await self._reach_focus()
        await self.sidebar.refresh()
        preloaded = _preload_components()
        client = ui.context.client
        await client.connected()
        if client.is_deleted:  # never connected (a health check's plain GET) and pruned by NiceGUI
            return
        preloaded.delete()
        if self.focus is not None:
            reveal(self.focus)
        self.composer.restore_draft()
        self._attach_running()
        client.on_delete(self._cancel_catch_ups)
        client.on_delete(self.chat.watch_started(self.owner, self._started_elsewhere))
        client.on_delete(self.chat.watch_conversations(self.owner, self._list_changed))
        self._in_background(self._learn_time_zone(), "learn the time zone")
        if self.conversation_id is not None:  # started by another tab while this one was loading?
            for started in self.chat.running(self.owner, self.conversation_id):
                self._started_elsewhere(started)  # a no-op for the ones just attached

    def _header(self) -> None:
        with ui.header().classes("app-header items-center justify-between"):
            with ui.row().classes("items-center gap-2"):
                ui.button(icon="menu", on_click=lambda: self.sidebar.drawer.run_method("toggle")).props(
                    "flat round dense aria-label='Toggle sidebar'"
                )
                TextElement(tag="h1", text="streamchat").classes("text-lg font-semibold m-0")
                self.title = (
                    ui.label()
                    .classes("conv-title text-base opacity-80")
                    .props("data-testid=conversation-title")
                    .mark("conversation-title")
                )
                ui.button(self.chat.model_label, icon="smart_toy", on_click=self._show_switch_help).props(
                    "flat dense no-caps data-testid=model-label"
                ).classes("model-chip").tooltip("Which model answers, and how to switch")
            with ui.row().classes("items-center gap-2"):
                app.storage.user.setdefault("stream", True)
                self.stream_switch = ui.switch("Stream responses").bind_value(app.storage.user, "stream")
                ui.button(icon="tune", on_click=self._open_conversation_settings).props(
                    "flat round dense aria-label='Conversation settings'"
                ).tooltip("Conversation settings")
                ui.button(icon="settings", on_click=self._open_settings).props(
                    "flat round dense aria-label=Settings"
                ).mark("settings")
                ui.button(icon="key", on_click=self._show_api_keys).props(
                    "flat round dense aria-label='API keys'"
                ).mark("api-keys")
                ui.button(icon="keyboard", on_click=show_shortcuts).props(
                    "flat round dense aria-label='Keyboard shortcuts'"
                ).tooltip("Keyboard shortcuts (?)")
                ui.button(icon="dark_mode", on_click=self._toggle_dark).props("flat round dense aria-label='Dark mode'")
                state = ui.context.client.request.state
                who, earlier = getattr(state, SIGNED_IN, None), getattr(state, EARLIER_BROWSER_ID, None)
                AccountButton(self.owner, who, self.sign_out, earlier)

    def _show_title(self, title: str) -> None:
        self.title.set_text(title)

    async def _learn_time_zone(self) -> None:
        """Sidebar groups are days where the reader lives: ask the browser once, remember it per user."""
        js = "Intl.DateTimeFormat().resolvedOptions().timeZone"
        try:
            name = await self.thread.client.run_javascript(js, timeout=5)
        except TimeoutError:
            return
        if isinstance(name, str) and name != app.storage.user.get("tz"):
            app.storage.user["tz"] = name
            self.sidebar.set_time_zone(name)
            await self.sidebar.refresh()

    async def _deleted_here(self, conversation_ids: list[str]) -> None:
        """This tab deleted the open conversation: start a new chat, as after "New chat"."""
        if self.conversation_id in conversation_ids:
            ui.navigate.to("/")

    def _list_changed(self, change: Changed) -> None:
        """A conversation was renamed, pinned, deleted or imported, in this tab or another."""
        self._in_background(self._catch_up_list(change), "refresh the conversation list")

    async def _catch_up_list(self, change: Changed) -> None:
        async with self.busy:
            if self.thread.is_deleted:
                return
            if change.kind == "deleted" and change.conversation_id == self.conversation_id:
                await self._render_thread()  # says it is gone; this tab did not ask for it
            await self.sidebar.refresh()

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

    async def _show_api_keys(self) -> None:
        await ApiKeysDialog(self.keys, self.owner).open()

    def _toggle_dark(self) -> None:
        app.storage.user["dark"] = not app.storage.user.get("dark", False)

    def _show_switch_help(self) -> None:
        with ui.dialog().props("aria-label='Which model answers'") as dialog, ui.card().classes("max-w-xl"):
            ui.label(f"Answering now: {self.chat.model_label}").classes("font-semibold")
            ui.markdown(SWITCH_HELP)
            ui.button("Close", on_click=dialog.close).props("flat")
        dialog.open()

    # thread --------------------------------------------------------------------------------

    async def _render_thread(self) -> None:
        """(Re)build the thread from the database: the newest page, or every turn already loaded."""
        thread = await self._read_thread(since=self.oldest) if self.oldest else await self._read_thread()
        self.thread.clear()
        self.views.clear()
        self.welcome = None
        if thread is None:
            with self.thread:
                ui.label("This conversation does not exist, or it is not yours.").classes("welcome")
            self.composer.set_visibility(False)
            return
        with self.thread:
            self.earlier = LoadEarlier(self._load_earlier, thread.more)
            if not thread.turns:
                self._welcome()
            self._add_turns(thread, newest=True)

    async def _reach_focus(self) -> None:
        """A message older than the newest page is loaded with every turn after it (older ones stay on
        demand), and an earlier version of an answer is the one shown. Not this thread's: ignored."""
        located = await self.chat.locate(self.owner, self.focus) if self.focus and self.conversation_id else None
        if located is None or located[0] != self.conversation_id:
            self.focus = None
            return
        question = located[1]
        older = self.oldest is None or question < self.oldest
        if question != self.focus:
            self.selected[question] = self.focus
        if older or question != self.focus:
            self.oldest = min(question, self.oldest or question)
            await self._render_thread()

    async def _read_thread(self, before: int | None = None, since: int | None = None) -> Thread | None:
        """A page of turns older than `before` (or every turn from `since` on), as this tab shows them;
        None if the conversation does not exist (or is not this owner's, or was deleted meanwhile)."""
        if self.conversation_id is None:
            return Thread([], False)
        limit, max_chars = (None, None) if since is not None else (PAGE_TURNS, PAGE_CHARS)
        try:
            thread = await self.chat.thread(
                self.owner,
                self.conversation_id,
                before=before,
                since=since,
                limit=limit,
                max_chars=max_chars,
                chosen=self.selected,
            )
        except NotFound:
            return None
        if thread.turns:
            self.oldest = thread.turns[0].question.id
        return thread

    def _add_turns(self, thread: Thread, newest: bool) -> list[ui.element]:
        """Each question, then the version of its answer this tab shows."""
        added: list[ui.element] = []
        for turn in thread.turns:
            added.append(self._question(turn.question, turn.edits))
            if turn.answer is not None:
                is_last = newest and turn is thread.turns[-1]
                added.append(self._add_answer(turn.answer, turn.versions, is_last=is_last, html=turn.html))
        return added

    async def _load_earlier(self) -> None:
        """The reader reached the top: put the previous page of turns above the oldest one shown."""
        async with self.busy:
            if self.oldest is None or self.earlier is None or self.earlier.is_deleted:
                return
            thread = await self._read_thread(before=self.oldest)
            if thread is None:
                return
            with self.thread:
                added = self._add_turns(thread, newest=False)
            for index, element in enumerate(added, start=1):  # right after the LoadEarlier element
                element.move(self.thread, target_index=index)
            self.earlier.set_more(thread.more)
            self._attach_running([e for e in added if isinstance(e, AssistantMessage)])

    def _welcome(self) -> None:
        with ui.column().classes("welcome items-center") as self.welcome:
            ui.label("What can I help with?").classes("text-2xl font-semibold")
            ui.label(f"Answering: {self.chat.model_label}").classes("text-sm")

    def _add_answer(
        self, message: Message, versions: list[Message], is_last: bool, html: str | None = None
    ) -> AssistantMessage:
        view = AssistantMessage(
            message,
            versions=versions,
            is_last=is_last,
            on_retry=self._retry,
            on_regenerate=self._regenerate,
            on_version=self._show_version,
            html=html,
            announce=self.announcer.say,
        )
        assert message.id is not None
        self.views[message.id] = view
        return view

    def _attach_running(self, views: list[AssistantMessage] | None = None) -> None:
        """After a reload or in a second tab: join answers that are still being generated."""
        ended = False
        for view in self.views.values() if views is None else views:
            if view.message.status == Status.STREAMING and not self._follow(view):
                ended = True  # it ended between reading the rows and now: show the final row
        if ended:  # a task, not a timer: the caller's slot may be gone (a retry rebuilt the thread)
            self._in_background(self._reread_thread(), "re-read the thread")

    async def _reread_thread(self) -> None:
        async with self.busy:
            if not self.thread.is_deleted:
                await self._render_thread()

    def _follow(self, view: AssistantMessage) -> bool:
        """Shows an answer live; False if it already ended and was saved (the rows read have it)."""
        message_id = view.message.id or -1
        following = self.chat.follow(self.owner, message_id, view.on_event)
        if following is None:
            return False
        self.followed.add(following.started.run)
        self.active = message_id
        self.composer.set_generating(True)
        view.attach(following, on_final=lambda: self._finished(message_id))
        return True

    def _finished(self, message_id: int) -> None:
        if self.active == message_id:
            self.active = None
            self.composer.set_generating(False)

    # actions -------------------------------------------------------------------------------

    def _started_elsewhere(self, started: Started) -> None:
        """An answer of this owner started (maybe in another tab): refresh what this tab shows of it."""
        self._in_background(self._catch_up(started), "catch up with another tab")

    def _in_background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Page work that outlives its caller; cancelled if the tab closes first."""
        task = background_tasks.create(work, name=name)
        self.catch_ups.add(task)
        task.add_done_callback(self.catch_ups.discard)

    def _cancel_catch_ups(self) -> None:
        """The tab closed: a catch-up waiting on the database must not go on to touch deleted elements."""
        for task in list(self.catch_ups):
            task.cancel()

    async def _catch_up(self, started: Started) -> None:
        async with self.busy:
            if self.thread.is_deleted or started.run in self.followed:
                return  # the tab is gone, or it already shows this answer (it started it)
            with self.thread:
                if started.conversation_id == self.conversation_id:
                    await self._render_thread()
                    self._attach_running()
                await self.sidebar.refresh()

    async def _send(self, text: str) -> bool:
        """False keeps the typed text in the box and puts Send back, whatever went wrong."""
        async with self.busy:
            sent = await self._attempt(
                lambda: self.chat.send(self.owner, self.conversation_id, text, stream=self._streaming()),
                "Your message was not sent. It is still in the box; try again.",
            )
            if sent is None:
                if self.active is not None:  # refused while this tab follows an answer: Stop comes back
                    ui.timer(0, lambda: self.composer.set_generating(self.active is not None), once=True)
                return False
            if self.conversation_id != sent.conversation.id:  # a new chat starts with the owner's defaults
                self._set_steering(Steering.of(sent.conversation))
            self._adopt(sent.conversation.id)
            self.composer.accepted()
            self._show_sent(sent)
        await self.sidebar.refresh()
        return True

    def _adopt(self, conversation_id: str) -> None:
        """This tab's new chat now has a row: the URL, the sidebar and the composer's draft follow it."""
        if self.conversation_id != conversation_id:
            self.conversation_id = conversation_id
            self.sidebar.set_current(conversation_id)
            self.composer.conversation_id = conversation_id
            ui.navigate.history.replace(app_url(f"/c/{conversation_id}"))

    async def _open_conversation_settings(self) -> None:
        await open_conversation_settings(self.chat, self.owner, self.conversation_id, self._steered)

    async def _steered(self, conversation_id: str, steering: Steering) -> None:
        self._adopt(conversation_id)
        self._set_steering(steering)
        await self.sidebar.refresh()

    async def _show_steering(self) -> None:
        steering = Steering()
        if self.conversation_id is not None:
            with contextlib.suppress(NotFound):  # the thread says so
                steering = await self.chat.steering(self.owner, self.conversation_id)
        self._set_steering(steering)

    def _set_steering(self, steering: Steering) -> None:
        parts = summary(steering)
        self.steering_line.set_text(" · ".join(parts))
        self.steering_line.set_visibility(bool(parts))

    async def _open_settings(self) -> None:
        await SettingsDialog.open_for(self.chat, self.owner)

    def _show_sent(self, sent: Sent) -> None:
        if self.welcome is not None:
            self.welcome.delete()
            self.welcome = None
        for view in self.views.values():
            view.set_last(False)
        with self.thread:
            if sent.user_message is not None:
                self._question(sent.user_message, [sent.user_message])
            view = self._add_answer(sent.assistant_message, [sent.assistant_message], is_last=True)
        self._attach_running([view])

    async def _attempt(self, action: Callable[[], Awaitable[Sent]], unexpected: str) -> Sent | None:
        """Runs a send, retry or regenerate; a refusal or a failure is said in plain words, never left as Stop."""
        try:
            return await action()
        except ChatError as exc:
            ui.notify(str(exc), type="warning", multi_line=True)
        except Exception:
            log.exception("could not start an answer")
            ui.notify(f"Something went wrong. {unexpected}", type="negative", multi_line=True)
        return None

    def _stop(self) -> None:
        """Stop always leaves the composer usable, also when the answer already ended on its own."""
        if self.active is None or not self.chat.stop(self.owner, self.active):
            self.active = None
            self.composer.set_generating(False)

    def _streaming(self) -> bool:
        return bool(self.stream_switch.value)

    async def _retry(self, message: Message) -> None:
        await self._rerun(lambda: self.chat.retry(self.owner, message.id or -1, stream=self._streaming()))

    async def _regenerate(self, message: Message) -> None:
        if message.reply_to is not None:
            self.selected.pop(message.reply_to, None)
        await self._rerun(lambda: self.chat.regenerate(self.owner, message.id or -1, stream=self._streaming()))

    async def _rerun(self, action: Callable[[], Awaitable[Sent]], *, branch: bool = False) -> bool:
        """`branch`: the answer starts a new branch (an edit), so the page shows it from its newest turns."""
        async with self.busy:
            sent = await self._attempt(action, "The answer was not restarted; try again.")
            if sent is None:
                return False
            # The thread is read below, after the start: its news is no news to this tab. An answer that
            # ends before that read is not followed, and `_catch_up` would build the thread a second time,
            # dropping a click on the first build (Edit, a version arrow) and closing an edit box opened on it.
            self.followed.add(sent.generation.run)
            if branch:
                self.oldest = None
            await self._render_thread()
            self._attach_running()  # the new answer live; one that ended, from memory until it is saved
        return True

    def _question(self, message: Message, edits: list[Message]) -> UserMessage:
        return UserMessage(message, edits=edits, on_edit=self._edit, on_pick=self._show_branch)

    async def _edit(self, message: Message, text: str) -> bool:
        edit = partial(self.chat.edit, self.owner, message.id or -1, text, stream=self._streaming())
        return await self._rerun(edit, branch=True)

    async def _show_branch(self, question: Message) -> None:
        """Another version of a question shows its own continuation: the whole thread below it changes."""
        async with self.busy:
            try:
                await self.chat.pick(self.owner, question.id or -1)
            except ChatError as exc:
                ui.notify(str(exc), type="warning")
                return
            self.oldest = None
            await self._render_thread()
            self._attach_running()

    async def _show_version(self, message: Message) -> None:
        """Swap one answer for another version of it in place: rebuilding a long thread would stall."""
        question = message.reply_to
        if question is None or message.id is None:
            return
        self.selected[question] = message.id
        with contextlib.suppress(ChatError):  # follow-ups are prompted with the version the reader sees
            await self.chat.pick(self.owner, message.id)
        async with self.busy:
            old = next((v for v in self.views.values() if v.message.reply_to == question), None)
            if old is None or old.is_deleted or self.conversation_id is None:
                return
            try:
                page = await self.chat.thread(
                    self.owner, self.conversation_id, before=question + 1, limit=1, chosen={question: message.id}
                )
            except NotFound:
                return
            turn = page.turns[0] if page.turns else None
            if turn is None or turn.answer is None or turn.answer.id != message.id or old.is_deleted:
                return  # deleted meanwhile, or the thread was rebuilt
            index = self.thread.default_slot.children.index(old)
            with self.thread:
                view = self._add_answer(turn.answer, turn.versions, is_last=old.is_last, html=turn.html)
            view.move(self.thread, target_index=index)
            self.views.pop(old.message.id or -1, None)
            self.thread.remove(old)
            self._attach_running([view])
