"""The account page (who is signed in, delete the account) and the page shown after deleting it."""

from __future__ import annotations

import reflex as rx

from voice_app import routes
from voice_app.account.state import AccountState
from voice_app.auth.guards import require_login
from voice_app.auth.session_requests import sign_out
from voice_app.auth.state import AuthState
from voice_app.confirm_dialog import confirm_button
from voice_app.layout import signed_in_frame


@require_login
def account_page() -> rx.Component:
    """The signed-in user's name and email, their data, and deleting the account."""
    return signed_in_frame(
        rx.vstack(
            rx.heading("Your account", size="6", as_="h1"),
            rx.card(
                rx.el.dl(
                    rx.el.dt(rx.text("Name", weight="bold", size="2")),
                    rx.el.dd(rx.text(AuthState.authenticated_user["display_name"]), margin="0 0 0.75em 0"),
                    rx.el.dt(rx.text("Email", weight="bold", size="2")),
                    rx.el.dd(rx.text(AuthState.authenticated_user["email"]), margin="0"),
                    margin="0",
                ),
                width="100%",
            ),
            rx.heading("Your data", size="4", as_="h2"),
            rx.text(
                "Your conversations are in your ",
                rx.link("history", href=routes.HISTORY, underline="always"),
                ": download any of them as Markdown or JSON, or delete one or all of them there.",
            ),
            rx.heading("Delete your account", size="4", as_="h2"),
            rx.text(
                "Deleting your account removes it with all your conversations and signs you out "
                "everywhere. This cannot be undone."
            ),
            confirm_button(
                "Delete my account",
                title="Delete your account?",
                description=(
                    "Your account, all your conversations and everything else of yours are deleted "
                    "for good, and you are signed out everywhere. This cannot be undone."
                ),
                confirm_label="Delete my account",
                on_confirm=AccountState.delete_account,
                button_id="delete-account",
            ),
            spacing="4",
            width="100%",
            max_width="40em",
        ),
        current=routes.ACCOUNT,
    )


def account_deleted_page() -> rx.Component:
    """Said once the account is gone."""
    return rx.el.main(
        rx.center(
            rx.card(
                rx.vstack(
                    rx.heading("Your account has been deleted", size="6", as_="h1"),
                    rx.text("Your account and all your conversations are gone, and you are signed out."),
                    rx.link("Create a new account", href=routes.SIGNUP, underline="always"),
                    # the session is gone on the server; this clears its cookie and tells the other tabs
                    sign_out(on_done=AuthState.signed_out),
                    spacing="4",
                ),
                size="3",
                max_width="26em",
            ),
            min_height="85vh",
            padding="1em",
        ),
        id="main",
    )
