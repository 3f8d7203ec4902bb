"""One chat bubble: the user's text, or an assistant answer that may still be streaming."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from nicegui import ui

from components.answer_meta import AnswerMeta
from components.attributes import set_attribute
from components.markdown_view import MarkdownView
from services import events
from services.models import REFUSAL_NOTE, Message, Phase, Role, Status
from services.sentences import Sentences

Action = Callable[[Message], Awaitable[None]]

PHASE_TEXT = {
    Phase.CONNECTING: "Connecting…",
    Phase.WAITING: "Thinking…",
    Phase.STREAMING: "",
    Phase.RETRYING: "",  # its detail says why and for how long
}
# Said to a screen reader once per change (the status line's per-second count is not).
SPOKEN_PHASE = {Phase.WAITING: "Thinking.", Phase.RETRYING: ""}  # a retry says its detail
SPOKEN_END = {Status.DONE: "Answer complete.", Status.STOPPED: "Stopped."}  # others say their note
COUNTING = (Phase.CONNECTING, Phase.WAITING)  # nothing arrived yet: the status line counts seconds
RETRYABLE = {Status.ERROR, Status.STOPPED, Status.INTERRUPTED, Status.FILTERED}
UNSAVED_NOTE = (
    "This answer could not be saved: the database is busy or unavailable. "
    "It is kept while the app runs, and saving is retried."
)


Edit = Callable[[Message, str], Awaitable[bool]]


def version_switcher(versions: list[Message], current: Message, on_pick: Action) -> None:
    """‹ 2/3 ›, for the versions of an answer (regenerated) or of a question (edited: a branch each)."""
    if len(versions) < 2:
        return
    index = next((i for i, v in enumerate(versions) if v.id == current.id), len(versions) - 1)
    prev_v = versions[index - 1] if index > 0 else None
    next_v = versions[index + 1] if index + 1 < len(versions) else None
    with ui.row().classes("items-center gap-0 msg-versions"):
        ui.button("‹", on_click=lambda: prev_v and on_pick(prev_v)).props(
            "flat dense aria-label='Previous version'"
        ).set_enabled(prev_v is not None)
        ui.label(f"{index + 1}/{len(versions)}").classes("text-xs").props("data-testid=version")
        ui.button("›", on_click=lambda: next_v and on_pick(next_v)).props(
            "flat dense aria-label='Next version'"
        ).set_enabled(next_v is not None)


class UserMessage(ui.element):
    """The question exactly as typed: shown as text, never interpreted as markdown or HTML.

    With `on_edit`, "Edit" turns it into a box: "Save and send" makes a new version of the question
    (a new branch, answered afresh), "Cancel" or Esc puts it back as it was. The box stays with the
    text when the page refuses (an answer is running, a limit is reached)."""

    def __init__(
        self,
        message: Message,
        *,
        edits: list[Message] | None = None,
        on_edit: Edit | None = None,
        on_pick: Action | None = None,
    ) -> None:
        super().__init__("div")
        self.message, self._on_edit = message, on_edit
        self.classes("msg-user-turn")
        with self:
            # The message element (data-role, data-status) is the bubble: its text is exactly the question.
            self.bubble = ui.label(message.content).classes("msg msg-user whitespace-pre-wrap break-words")
            self.bubble.props(f"data-role={Role.USER} data-status={message.status} data-message-id={message.id}")
            if on_edit is None:
                return
            with ui.row().classes("msg-actions items-center gap-0") as self.actions:
                if on_pick is not None:
                    version_switcher(edits or [message], message, on_pick)
                ui.button(icon="edit", on_click=self._start_edit).props(
                    "flat dense round size=sm aria-label=Edit"
                ).tooltip("Edit")
            self.editor = ui.column().classes("w-full gap-1 msg-editor")
            self.editor.set_visibility(False)

    def start_edit(self) -> None:
        self._start_edit()

    def _start_edit(self) -> None:
        self.editor.clear()
        with self.editor:
            box = ui.textarea("Edit message", value=self.message.content).props("outlined autogrow autofocus")
            box.classes("w-full").on("keydown.esc", self._cancel)
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=self._cancel).props("flat no-caps")
                save = ui.button("Save and send", on_click=lambda: self._save(box))
                save.props("unelevated no-caps")
        self.bubble.set_visibility(False)
        self.actions.set_visibility(False)
        self.editor.set_visibility(True)

    def _cancel(self) -> None:
        self.editor.set_visibility(False)
        self.editor.clear()
        self.bubble.set_visibility(True)
        self.actions.set_visibility(True)

    async def _save(self, box: ui.textarea) -> None:
        assert self._on_edit is not None
        await self._on_edit(self.message, box.value or "")  # on success the page shows the new branch


class AssistantMessage(ui.element):
    """An answer: markdown body, live status line, error note and actions.

    The page follows a running answer through ChatService after the browser is connected, taking the
    snapshot and the live deltas in one step, so a reload neither loses nor doubles a token.
    A finished answer comes with its HTML already rendered (``html``), so building it parses nothing.
    """

    def __init__(
        self,
        message: Message,
        *,
        versions: list[Message],
        is_last: bool,
        on_retry: Action,
        on_regenerate: Action,
        on_version: Action,
        html: str | None = None,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__("div")
        self.message = message
        self.versions = versions
        self.is_last = is_last
        self._on_retry, self._on_regenerate, self._on_version = on_retry, on_regenerate, on_version
        self._unsubscribe: Callable[[], None] | None = None
        self._on_final: Callable[[], None] | None = None
        self._phase_started = time.time()
        self._phase: Phase | None = None
        self._announce = announce
        self._sentences: Sentences | None = None  # while followed live: what a screen reader hears next
        self.classes("msg msg-assistant")
        self.props(f"data-role={Role.ASSISTANT} data-message-id={message.id}")
        with self:
            self.declined = ui.badge("Declined", color="grey-7").props("outline").classes("self-start")
            self.declined.tooltip("The model refused this request; its words are shown as it said them.")
            self.body = MarkdownView(message.content, html=html)
            # A status, but not read out as it changes (its seconds tick): `announce` says each change once.
            self.status_line = ui.label("").classes("msg-status").props("role=status aria-live=off")
            self.note = ui.label(message.error).classes("msg-note")
            self.save_note = ui.label("").classes("msg-note msg-note-error").props("role=alert")
            self.meta = AnswerMeta()
            with ui.row().classes("msg-actions items-center gap-1"):
                self._build_actions()
        self._ticker = ui.timer(0.5, self._tick, active=False)
        self._set_status(Status(message.status), message.error)

    # live updates --------------------------------------------------------------------------

    def attach(self, following: events.Following, on_final: Callable[[], None] | None = None) -> None:
        """Shows the snapshot; `on_event` (the listener `following` came from) does the rest.
        Detaches by itself when the element goes away."""
        self.detach()
        self._on_final = on_final
        self._unsubscribe = following.unsubscribe
        self._show_saved(following.saved)
        self.body.reset(following.snapshot.text)
        self._sentences = Sentences(following.snapshot.text) if self._announce else None
        if following.done is not None:
            self._end(following.done)
        elif following.snapshot.status is not None:
            self._phase_started = following.started_at
            self._set_phase(following.snapshot.status)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _show_saved(self, saved: bool) -> None:
        """A finished answer the database has not taken yet says so, until it has."""
        if not self.is_deleted:
            self.save_note.text = "" if saved else UNSAVED_NOTE

    def _handle_delete(self) -> None:
        self.detach()
        super()._handle_delete()

    def on_event(self, event: events.PageEvent) -> None:
        """The listener to follow an answer with (`ChatService.follow`)."""
        if self.is_deleted:
            self.detach()
        elif isinstance(event, events.Delta):
            self.body.push(event.text)
            if self._sentences is not None:
                self._speak(*self._sentences.feed(event.text))
        elif isinstance(event, events.Done):
            self._end(event)
        elif isinstance(event, events.Status):
            self._set_phase(event)
        else:
            self._show_saved(event.saved)

    def _speak(self, *texts: str) -> None:
        if self._announce is not None:
            for text in texts:
                self._announce(text)

    def _end(self, done: events.Done) -> None:
        """Still subscribed afterwards: a final row that could not be written is said when it happens."""
        self.body.finish()
        self.message.content = self.body.text
        usage = done.usage or {}
        self.message.ttft_ms, self.message.duration_ms = done.ttft_ms, done.duration_ms
        self.message.prompt_tokens = usage.get("prompt_tokens", self.message.prompt_tokens)
        self.message.completion_tokens = usage.get("completion_tokens", self.message.completion_tokens)
        self.message.finish_reason = done.finish_reason
        status = Status(done.status)
        if self._sentences is not None:
            self._speak(*self._sentences.finish(), SPOKEN_END.get(status, done.error))
            self._sentences = None
        self._set_status(status, done.error)
        if self._on_final is not None:
            self._on_final()

    def _set_phase(self, status: events.Status) -> None:
        phase, detail = Phase(status.phase), status.detail
        if phase != self._phase and phase in SPOKEN_PHASE and self._sentences is not None:
            self._speak(SPOKEN_PHASE[phase] or detail)
        self._phase = phase
        set_attribute(self, "data-status", Status.STREAMING)
        set_attribute(self, "data-phase", phase)
        self.status_line.text = detail or PHASE_TEXT[phase]
        self.status_line.classes(replace="msg-status thinking" if phase in COUNTING else "msg-status")
        self._ticker.active = phase in COUNTING
        self.note.text = ""
        self.declined.set_visibility(False)
        self._tick()
        self._refresh_actions(streaming=True)

    def _tick(self) -> None:
        """Counts seconds since sending while nothing has arrived, so a slow model never looks frozen."""
        if self._phase not in COUNTING:
            return
        elapsed = int(time.time() - self._phase_started)
        label = PHASE_TEXT[self._phase]
        self.status_line.text = f"{label} {elapsed} s" if elapsed >= 1 else label

    def _set_status(self, status: Status, note: str) -> None:
        self.message.status, self.message.error = status, note
        self._phase = None
        self._ticker.active = False
        set_attribute(self, "data-status", status)
        set_attribute(self, "data-phase", None)  # a final status is no phase
        self.status_line.text = "Generating…" if status == Status.STREAMING else ""
        self.status_line.classes(replace="msg-status")
        self.note.text = "Stopped." if status == Status.STOPPED else note
        self.declined.set_visibility(note == REFUSAL_NOTE)
        kind = "error" if status in (Status.ERROR, Status.FILTERED, Status.INTERRUPTED) else "info"
        self.note.classes(replace=f"msg-note msg-note-{kind}")
        self._refresh_actions(streaming=status == Status.STREAMING)
        if status.final:
            self.meta.show(self.message)
        else:
            self.meta.set_visibility(False)

    # actions -------------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.copy_btn = ui.button(icon="content_copy", on_click=self._copy).props("flat dense round aria-label=Copy")
        self.copy_btn.tooltip("Copy")
        self.retry_btn = ui.button("Retry", icon="refresh", on_click=lambda: self._on_retry(self.message))
        self.retry_btn.props("flat dense no-caps color=negative")
        self.regen_btn = ui.button(icon="autorenew", on_click=lambda: self._on_regenerate(self.message))
        self.regen_btn.props("flat dense round aria-label=Regenerate").tooltip("Regenerate")
        version_switcher(self.versions, self.message, self._on_version)

    def set_last(self, is_last: bool) -> None:
        """Only the newest answer offers Regenerate."""
        self.is_last = is_last
        self._refresh_actions(streaming=self.message.status == Status.STREAMING)

    def _refresh_actions(self, streaming: bool) -> None:
        self.copy_btn.set_visibility(not streaming and bool(self.body.text))
        self.retry_btn.set_visibility(not streaming and self.message.status in RETRYABLE)
        self.regen_btn.set_visibility(not streaming and self.is_last and self.message.status not in RETRYABLE)

    def _copy(self) -> None:
        ui.clipboard.write(self.body.text)
        ui.notify("Copied", type="positive", timeout=1000)
