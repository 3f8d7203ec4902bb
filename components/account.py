"""The header's account button: who is signed in (AUTH_MODE header|oidc), or this browser's id.

In browser mode the id is what the operator needs to hand this browser's conversations to a user
account (`app.py claim`) when the deployment moves to team sign-in, so the dialog shows it.
"""

from __future__ import annotations

from nicegui import ui

from services.users import SignedIn

CLAIM_COMMAND = "uv run app.py claim --from-browser-id {id} --to {email}"
CLAIM_HELP = (
    "Your conversations are kept under this browser's id. If this streamchat moves to team sign-in, "
    f"give this id to its operator, who can move them to your account with `{CLAIM_COMMAND}`."
).format(id="<id>", email="<your email>")
EARLIER_HELP = (
    "Before sign-in, this browser kept conversations under the id above. To have them in your account, "
    f"ask the operator to run `{CLAIM_COMMAND}`."
)


class AccountButton:
    """Shows the signed-in user's name or email; opens a dialog with the details (and sign-out)."""

    def __init__(self, owner: str, who: SignedIn | None, sign_out: str | None, earlier: str | None = None) -> None:
        self.owner, self.who, self.sign_out, self.earlier = owner, who, sign_out, earlier
        if who is None:
            ui.button(icon="account_circle", on_click=self._open).props("flat round dense aria-label=Account")
        else:
            ui.button(who.label, icon="account_circle", on_click=self._open).props(
                "flat dense no-caps data-testid=signed-in"
            ).tooltip(f"Signed in as {who.email}")

    def _open(self) -> None:
        with ui.dialog().props("aria-label=Account") as dialog, ui.card().classes("w-[32rem] max-w-full gap-3"):
            ui.label("Account").classes("text-lg font-semibold")
            if self.who is None:
                self._browser_id(self.owner)
                ui.markdown(CLAIM_HELP).classes("text-sm")
            else:
                if self.who.name:
                    ui.label(self.who.name).classes("font-semibold")
                ui.label(self.who.email).props("aria-label='Signed in as'")
                if self.earlier and self.earlier != self.who.id:
                    self._browser_id(self.earlier)
                    ui.markdown(EARLIER_HELP.format(id=self.earlier, email=self.who.email)).classes("text-sm")
            with ui.row().classes("w-full justify-end"):
                if self.sign_out is not None and self.who is not None:
                    ui.button("Sign out", on_click=lambda: ui.navigate.to(self.sign_out)).props("flat no-caps")
                ui.button("Close", on_click=dialog.close).props("flat no-caps")
        dialog.on("hide", dialog.delete)
        dialog.open()

    @staticmethod
    def _browser_id(value: str) -> None:
        ui.label("This browser's id").classes("text-sm")
        ui.label(value).classes("font-mono select-all").props("aria-label='Browser id'")
