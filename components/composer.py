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

# Drafts live in the browser's localStorage, written on every change by the page itself, so text
# typed while the websocket is down survives the reload NiceGUI does when it reconnects. The key
# comes from the URL (`/c/<id>`, or "new"), so the server never has to send one; the script is
# part of the page, so the per-keystroke handler and the element updates stay tiny.
DRAFTS_SCRIPT = """
<script>
window.scDrafts = {
  key: (id) => "streamchat.draft." + (id ?? "new"),
  here: () => scDrafts.key(location.pathname.match(/\\/c\\/([^/]+)$/)?.[1]),
  save: (text) => text ? localStorage.setItem(scDrafts.here(), text) : localStorage.removeItem(scDrafts.here()),
  clear: (id) => localStorage.removeItem(scDrafts.key(id)),
  restore: (elementId) => {
    const root = getHtmlElement(elementId);
    const box = root && (root.matches("textarea") ? root : root.querySelector("textarea"));
    const draft = localStorage.getItem(scDrafts.here());
    if (box && draft && !box.value) { box.value = draft; box.dispatchEvent(new Event("input", {bubbles: true})); }
  },
};
</script>
"""


class Composer(ui.element):
    """Keeps the typed text until the send really happened, so nothing is lost on an error or a reload."""

    def __init__(
        self, on_send: Callable[[str], Awaitable[bool]], on_stop: Callable[[], None], conversation_id: str | None
    ) -> None:
        super().__init__("div")
        self._on_send, self._on_stop = on_send, on_stop
        self.generating = False
        self.conversation_id = conversation_id  # whose draft this box holds (None: a chat not started yet)
        ui.add_body_html(DRAFTS_SCRIPT)
        self.classes("composer w-full max-w-3xl mx-auto")
        with self, ui.row().classes("w-full items-end no-wrap gap-2"):
            self.input = (
                ui.textarea(placeholder="Ask anything — Enter to send, Shift+Enter for a new line")
                .props('outlined autogrow dense aria-label=Message input-class="composer-input" rows=1')
                .classes("flex-grow")
                .mark("message")
            )
            self.input.on("keydown", self._key, js_handler=ENTER_SENDS)
            self.input.on("update:model-value", js_handler="(text) => scDrafts.save(text)")
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
        self._refresh()

    def restore_draft(self) -> None:
        """Put back what was typed here before a reload; needs the page connected."""
        ui.run_javascript(f"scDrafts.restore({self.input.id})")

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
        sent_from = self.conversation_id  # sending may move the page to a new conversation
        if await self._on_send(text):
            ui.run_javascript(f"scDrafts.clear({json.dumps(sent_from)})")
            if self.input.value == text:
                self.input.value = ""
            else:  # typed while the send was handled: the next words stay, as this chat's draft
                ui.run_javascript(f"scDrafts.save({json.dumps(self.input.value)})")
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
