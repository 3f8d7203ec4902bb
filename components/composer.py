"""The message box: Enter sends, Shift+Enter adds a line, Stop replaces Send while answering."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from nicegui import ui
from nicegui.events import GenericEventArguments

from components.attributes import set_attribute

# Enter without Shift (and not while an IME is composing) sends; the default newline is suppressed.
ENTER_SENDS = """(e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    const text = scDrafts.take(e.target);
    if (text !== null) emit({key: 'send', text});
  }
  else if (e.key === 'Escape') { emit({key: 'stop'}); }
}"""

# The Send button hands the box's text over as Enter does.
SEND_CLICKED = """() => {
  const box = scDrafts.box(BOX), text = box && scDrafts.take(box);
  if (text) emit({key: 'send', text});
}"""

# Drafts live in the browser's localStorage, written on every change by the page itself, so text
# typed while the websocket is down survives the reload NiceGUI does when it reconnects. The key
# comes from the URL (`/c/<id>`, or "new"), so the server never has to send one; the script is
# part of the page, so the per-keystroke handler and the element updates stay tiny.
# A send empties the box in the browser, at once: whatever is typed after Enter is the next message,
# and no update from the server can overwrite it. Until the server has the text it waits under the
# key's ".sending" entry, so a reload puts it back; a send that does not happen gives it back.
DRAFTS_SCRIPT = """
<script>
window.scDrafts = {
  key: (id) => "streamchat.draft." + (id ?? "new"),
  here: () => scDrafts.key(location.pathname.match(/\\/c\\/([^/]+)$/)?.[1]),
  save: (text) => text ? localStorage.setItem(scDrafts.here(), text) : localStorage.removeItem(scDrafts.here()),
  box: (elementId) => {
    const root = getHtmlElement(elementId);
    return root && (root.matches("textarea") ? root : root.querySelector("textarea"));
  },
  set: (box, text) => { box.value = text; box.dispatchEvent(new Event("input", {bubbles: true})); },
  take: (box) => {
    const text = box.value;
    if (!text.trim() || box.closest(".composer")?.hasAttribute("data-generating")) return null;
    localStorage.setItem(scDrafts.here() + ".sending", text);
    scDrafts.handed = true;
    scDrafts.set(box, "");
    return text;
  },
  forget: (id) => localStorage.removeItem(scDrafts.key(id) + ".sending"),
  sent: (elementId, id) => {  // what was typed since is the draft of the chat the page now shows
    scDrafts.forget(id);
    if (scDrafts.key(id) !== scDrafts.here()) localStorage.removeItem(scDrafts.key(id));
    const box = scDrafts.box(elementId);
    if (box) scDrafts.save(box.value);
  },
  giveBack: (elementId, id, text) => {
    scDrafts.forget(id);
    const box = scDrafts.box(elementId);
    if (box && !box.value.startsWith(text)) scDrafts.set(box, box.value ? text + "\\n" + box.value : text);
  },
  restore: (elementId) => {  // a send of this page is the server's, not a leftover of an earlier page
    const box = scDrafts.box(elementId), here = scDrafts.here();
    const sending = scDrafts.handed ? null : localStorage.getItem(here + ".sending");
    const text = [sending, localStorage.getItem(here)].filter(Boolean).join("\\n");
    if (!box || !text || box.value) return;
    if (sending) localStorage.removeItem(here + ".sending");
    scDrafts.set(box, text);
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
        self._sent_from = conversation_id  # the chat the send under way left from
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
            self.send_btn = ui.button(icon="arrow_upward").props("round unelevated aria-label=Send").mark("send")
            self.send_btn.on("click", self._key, js_handler=SEND_CLICKED.replace("BOX", str(self.input.id)))
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
            await self.send(str(args.get("text") or ""))
        elif args.get("key") == "stop":
            self._stop()

    async def send(self, text: str) -> None:
        """`text` left the box when Enter or Send was pressed (see DRAFTS_SCRIPT); a send that does
        not happen puts it back in front of whatever was typed since."""
        if not text.strip():
            return
        if self.generating:  # the browser had not heard yet that an answer is being written
            self._give_back(self.conversation_id, text)
            return
        self.set_generating(True)
        self._sent_from = self.conversation_id  # sending may move the page to a new conversation
        if not await self._on_send(text):
            self.set_generating(False)
            self._give_back(self._sent_from, text)

    def accepted(self) -> None:
        """The server has the text: nothing waits to be put back, and what was typed since is the draft
        of the chat the page shows now. Called by the page as soon as the send is stored, before the
        answer can show: a reload after it must not bring the text back."""
        ui.run_javascript(f"scDrafts.sent({self.input.id}, {json.dumps(self._sent_from)})")

    def _give_back(self, sent_from: str | None, text: str) -> None:
        ui.run_javascript(f"scDrafts.giveBack({self.input.id}, {json.dumps(sent_from)}, {json.dumps(text)})")

    def _stop(self) -> None:
        if self.generating:
            self._on_stop()

    def set_generating(self, generating: bool) -> None:
        """Also told to the browser (`data-generating`), whose Enter then leaves the text in the box."""
        set_attribute(self, "data-generating", "" if generating else None)
        self.generating = generating
        self._refresh()

    def _refresh(self) -> None:
        self.send_btn.set_visibility(not self.generating)
        self.stop_btn.set_visibility(self.generating)
        self.send_btn.set_enabled(bool((self.input.value or "").strip()) and not self.generating)
