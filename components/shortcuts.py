"""Keyboard shortcuts: one listener in the page, and the "Keyboard shortcuts" dialog (`?`).

The listener acts on the page as a person would (focus the search box, press the Stop or Copy
button), so a shortcut does exactly what its button does; only `?` asks the server, for the dialog.
"""

from __future__ import annotations

from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement

SHORTCUTS = (
    ("Ctrl+Shift+O", "New chat"),
    ("Ctrl+K", "Search conversations"),
    ("Esc", "Stop the answer"),
    ("Ctrl+Shift+C", "Copy the last answer"),
    ("↑ in an empty message box", "Edit your last message"),
    ("?", "Show these shortcuts"),
)
SHOW_EVENT = "streamchat_shortcuts"

SCRIPT = """
<script>
document.addEventListener("keydown", (e) => {
  const key = e.key.toLowerCase(), ctrl = e.ctrlKey || e.metaKey;
  const click = (selector) => { const el = document.querySelector(selector); if (el) el.click(); return !!el; };
  const typing = e.target.closest && e.target.closest("input, textarea, [contenteditable=true]");
  if (ctrl && e.shiftKey && key === "o") {
    e.preventDefault(); click('button[aria-label="New chat"]');
  } else if (ctrl && !e.shiftKey && key === "k") {
    e.preventDefault();
    const box = document.querySelector('[aria-label="Search conversations"]');
    (box && box.matches("input") ? box : box?.querySelector("input"))?.focus();
  } else if (ctrl && e.shiftKey && key === "c") {
    const answers = document.querySelectorAll('[data-role="assistant"]');
    const copy = answers.length && answers[answers.length - 1].querySelector('button[aria-label="Copy"]');
    if (copy) { e.preventDefault(); copy.click(); }
  } else if (e.key === "Escape" && !document.querySelector(".q-dialog") && !e.target.closest?.(".composer")) {
    click('button[aria-label="Stop"]');  // the composer says Stop itself while it has the focus
  } else if (e.key === "ArrowUp" && !ctrl && !e.shiftKey && !e.altKey
             && e.target.classList?.contains("composer-input") && !e.target.value) {
    const edits = document.querySelectorAll('.msg-user-turn button[aria-label="Edit"]');
    if (edits.length) { e.preventDefault(); edits[edits.length - 1].click(); }
  } else if (e.key === "?" && !typing && !ctrl && !e.altKey) {
    e.preventDefault(); emitEvent("streamchat_shortcuts");  // SHOW_EVENT
  }
});
</script>
"""


def add_shortcuts() -> None:
    """Once per page."""
    ui.add_body_html(SCRIPT)
    ui.on(SHOW_EVENT, show_shortcuts)


def show_shortcuts() -> None:
    with ui.dialog().props('aria-label="Keyboard shortcuts"') as dialog, ui.card().classes("min-w-80"):
        TextElement(tag="h2", text="Keyboard shortcuts").classes("text-lg font-semibold m-0")
        with ui.element("table").classes("shortcuts w-full"), ui.element("tbody"):
            for keys, what in SHORTCUTS:
                with ui.element("tr"):
                    with ui.element("td").classes("pr-4 py-1"):
                        TextElement(tag="kbd", text=keys).classes("shortcut-key")
                    TextElement(tag="td", text=what)
        ui.button("Close", on_click=dialog.close).props("flat").classes("self-end")
    dialog.open()
