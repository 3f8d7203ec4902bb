"""The fields of services/steering.py, shared by "Conversation settings" and the defaults in Settings.

An empty field means the app's default; the placeholders say what that default is."""

from __future__ import annotations

from nicegui import ui

from services.steering import MAX_SYSTEM_PROMPT_CHARS, TEMPERATURE_RANGE, Steering


class SteeringForm:
    def __init__(self, steering: Steering, *, models: list[str], answer_cap: int, default_prompt: str) -> None:
        self.models = models
        self.system_prompt = (
            ui.textarea("System prompt", value=steering.system_prompt or "", placeholder=default_prompt)
            .props(f"outlined autogrow maxlength={MAX_SYSTEM_PROMPT_CHARS} input-class=max-h-48")
            .classes("w-full")
        )
        low, high = TEMPERATURE_RANGE
        with ui.row().classes("w-full gap-3 no-wrap"):
            self.temperature = (
                ui.number("Temperature", value=steering.temperature, min=low, max=high, step=0.1, format="%.1f")
                .props("outlined clearable placeholder='Model default'")
                .classes("flex-1")
                .tooltip(f"{low:g} (focused) to {high:g} (varied); empty: the model's default")
            )
            cap = f"at most {answer_cap:,}" if answer_cap else "no limit"
            self.max_tokens = (
                ui.number("Maximum answer length", value=steering.max_tokens, min=1, max=answer_cap or None, step=1)
                .props(f"outlined clearable suffix=tokens placeholder='Default ({cap})'")
                .classes("flex-1")
            )
        self.model = None
        if len(models) > 1:
            options = {"": f"Default ({models[0]})", **{m: m for m in models}}
            self.model = ui.select(options, label="Model", value=steering.model or "").props("outlined")
            self.model.classes("w-full")

    def value(self) -> Steering:
        temperature, length = self.temperature.value, self.max_tokens.value
        return Steering(
            system_prompt=self.system_prompt.value or None,
            temperature=None if temperature is None else float(temperature),
            max_tokens=None if length is None else int(length),
            model=(self.model.value or None) if self.model is not None else None,
        )

    def show(self, steering: Steering) -> None:
        self.system_prompt.value = steering.system_prompt or ""
        self.temperature.value = steering.temperature
        self.max_tokens.value = steering.max_tokens
        if self.model is not None:
            self.model.value = steering.model or ""
