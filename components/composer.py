"""The message box: Enter sends, Shift+Enter adds a line, Stop replaces Send while answering."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from nicegui import ui
from nicegui.events import GenericEventArguments

# Enter without Shift (and not while an IME is composing) sends; the default newline is suppressed.
ENTER_SENDS = """(e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault(); emit({key: 'send', text: e.target.value});
  }
  else if (e.key === 'Escape') { emit({key: 'stop'}); }
}"""

# Drafts live in the browser's localStorage, written on every keystroke by the page itself, so
# text typed while the websocket is down survives the reload NiceGUI does when it reconnects.
DRAFT_PREFIX = "streamchat.draft."
SAVE_DRAFT = """(value) => {
  const key = document.querySelector('textarea[data-draft]')?.dataset.draft;
  if (!key) return;
  if (value) localStorage.setItem(key, value); else localStorage.removeItem(key);
}"""
RESTORE_DRAFT = """
const root = getHtmlElement(%(id)s);
const box = root && (root.matches('textarea') ? root : root.querySelector('textarea'));
const draft = localStorage.getItem(%(key)s);
if (box && draft && !box.value) { box.value = draft; box.dispatchEvent(new Event('input', {bubbles: true})); }
"""


class Composer(ui.element):
    """Keeps the typed text until the send really happened, so nothing is lost on an error or a reload."""

    def __init__(
        self, on_send: Callable[[str], Awaitable[bool]], on_stop: Callable[[], None], draft_key: str
    ) -> None:
        super().__init__("div")
        self._on_send, self._on_stop = on_send, on_stop
        self.generating = False
        self.draft_key = ""
        self.classes("composer w-full max-w-3xl mx-auto")
        with self, ui.row().classes("w-full items-end no-wrap gap-2"):
            self.input = (
                ui.textarea(placeholder="Ask anything — Enter to send, Shift+Enter for a new line")
                .props('outlined autogrow dense aria-label=Message input-class="composer-input" rows=1')
                .classes("flex-grow")
                .mark("message")
            )
            self.input.on("keydown", self._key, js_handler=ENTER_SENDS)
            self.input.on("update:model-value", js_handler=SAVE_DRAFT)
            self.input.on_value_change(lambda _e: self._refresh())
            self.send_btn = (
                ui.button(icon="arrow_upward", on_click=self.send)
                .props("round unelevated aria-label=Send")
                .mark("send")
            )
            self.send_btn.tooltip("Send (Enter)")
            self.stop_btn = ui.button(icon="stop", on_click=self._stop).props(
                "round unelevated color=negative aria-label=Stop"
            )
            self.stop_btn.tooltip("Stop (Esc)")
        self.set_draft_key(draft_key)
        self._refresh()

    def set_draft_key(self, name: str) -> None:
        """Drafts are kept per conversation ("new" for a chat not started yet)."""
        self.draft_key = DRAFT_PREFIX + name
        self.input.props(f"data-draft={self.draft_key}")

    def restore_draft(self) -> None:
        """Put back what was typed here before a reload; needs the page connected."""
        ui.run_javascript(RESTORE_DRAFT % {"id": self.input.id, "key": json.dumps(self.draft_key)})

    async def _key(self, event: GenericEventArguments) -> None:
        args = event.args if isinstance(event.args, dict) else {}
        if args.get("key") == "send":
            self.input.value = str(args.get("text", self.input.value or ""))
            await self.send()
        elif args.get("key") == "stop":
            self._stop()

    async def send(self) -> None:
        text = self.input.value or ""
        if self.generating or not text.strip():
            return
        self.set_generating(True)
        key = self.draft_key  # sending may move the page to a new conversation, with a new key
        if await self._on_send(text):
            self.input.value = ""
            ui.run_javascript(f"localStorage.removeItem({json.dumps(key)})")
        else:
            self.set_generating(False)

    def _stop(self) -> None:
        if self.generating:
            self._on_stop()

    def set_generating(self, generating: bool) -> None:
        self.generating = generating
        self._refresh()

    def _refresh(self) -> None:
        self.send_btn.set_visibility(not self.generating)
        self.stop_btn.set_visibility(self.generating)
        self.send_btn.set_enabled(bool((self.input.value or "").strip()) and not self.generating)
