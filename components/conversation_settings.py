"""The "Conversation settings" dialog: how this conversation is answered, and what it has used.

Opened before the first message, saving starts the conversation, so the first answer already
follows the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from components.steering_form import SteeringForm
from services.chat import ChatError, ChatService, UsageTotals
from services.steering import Steering

Saved = Callable[[str, Steering], Awaitable[None]]


def usage_line(totals: UsageTotals) -> str:
    if not totals.answers:
        return "No answers yet."
    answers = f"{totals.answers} answer{'s' if totals.answers != 1 else ''}"
    return f"{answers} · {totals.prompt_tokens:,} prompt tokens · {totals.completion_tokens:,} completion tokens"


async def open_conversation_settings(
    chat: ChatService, owner: str, conversation_id: str | None, on_saved: Saved
) -> None:
    """Read first, then build: the dialog opens with what is stored, never with a blank form."""
    try:
        steering = await chat.steering(owner, conversation_id) if conversation_id else await chat.defaults(owner)
        totals = await chat.usage_totals(owner, conversation_id) if conversation_id else UsageTotals(0, 0, 0)
        models = await chat.models()
    except ChatError as exc:
        ui.notify(str(exc), type="negative")
        return
    with ui.dialog().props("aria-label='Conversation settings'") as dialog, ui.card().classes("w-[36rem] max-w-full"):
        ui.label("Conversation settings").classes("text-lg font-semibold")
        ui.label(
            "For this conversation's next answers. Empty fields use the defaults (Settings → Defaults for new chats)."
        ).classes("text-sm opacity-80")
        form = SteeringForm(
            steering, models=models, answer_cap=chat.answer_cap, default_prompt=chat.settings.system_prompt
        )
        ui.label("Usage").classes("font-medium").props("role=heading aria-level=2")
        ui.label(usage_line(totals)).classes("text-sm").props("data-testid=conversation-usage")
        problem = ui.label().classes("text-sm text-negative").props("role=alert")

        async def reset() -> None:
            form.show(await chat.defaults(owner))

        async def save() -> None:
            nonlocal conversation_id
            try:
                if conversation_id is None:
                    conv = await chat.new_conversation(owner, steering=form.value())
                    conversation_id, saved = conv.id, Steering.of(conv)
                else:
                    saved = await chat.steer(owner, conversation_id, form.value())
            except ChatError as exc:
                problem.set_text(str(exc))
                return
            dialog.close()
            await on_saved(conversation_id, saved)

        with ui.row().classes("w-full justify-between items-center"):
            ui.button("Reset to defaults", on_click=reset).props("flat no-caps")
            with ui.row().classes("gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Save", on_click=save).props("unelevated no-caps")
    dialog.on("hide", dialog.delete)
    dialog.open()
