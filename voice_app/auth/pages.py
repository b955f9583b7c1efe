"""Sign-up, login and logout pages, and the small states behind their forms.

The forms post to the browser session routes (`voice_app.auth.browser_api`), which set the
session cookie; those call the same service functions as the REST API and validate with the same
models, so a browser user and an API client get the same rules and the same words. The states
here only turn a refusal into words next to the right field.
"""

from __future__ import annotations

from typing import Any, TypeGuard, cast
from urllib.parse import quote

import reflex as rx
from reflex.event import EventSpec

from voice_app import routes
from voice_app.auth import service
from voice_app.auth.session_requests import (
    BROWSER_LOGIN_PATH,
    BROWSER_REGISTER_PATH,
    session_form,
    sign_out,
)
from voice_app.auth.state import AuthState, safe_next_path
from voice_app.auth.validation import PASSWORD_MIN_CHARS

SERVER_UNREACHABLE_MESSAGE = "The server could not be reached. Check your connection and try again."
EMAIL_TAKEN_MESSAGE = "An account with this email already exists. Sign in instead."


def _is_json_object(value: object) -> TypeGuard[dict[str, Any]]:
    """Whether a decoded JSON ``value`` is an object (its keys are strings)."""
    return isinstance(value, dict)


def _field_errors(refusal: dict[str, Any]) -> dict[str, str]:
    """The first message for each field of a 422 refusal, keyed by field name."""
    messages: dict[str, str] = {}
    errors: list[Any] = refusal.get("errors") or []
    for item in errors:
        if _is_json_object(item):
            messages.setdefault(str(item.get("field", "")), str(item.get("message", "")))
    return messages


def _refusal_sentence(refusal: dict[str, Any]) -> str:
    """What went wrong, in one sentence: the API's own, or that the server was not reached."""
    if not refusal.get("status"):
        return SERVER_UNREACHABLE_MESSAGE
    return str(refusal.get("detail") or "Something went wrong. Try again.")


class _AuthFormState(AuthState):
    """What the login and sign-up forms share: where to go afterwards."""

    @rx.var
    def next_path(self) -> str:
        """Where the visitor was going (a same-site path), else the home page."""
        return safe_next_path(self.router.url.query_parameters.get("next", ""))

    @rx.var
    def next_query(self) -> str:
        """``?next=...`` to carry the destination between the login and sign-up pages."""
        return f"?next={quote(self.next_path, safe='/')}" if self.next_path != routes.TALK else ""

    @rx.event
    async def redirect_if_signed_in(self) -> EventSpec | None:
        """A signed-in visitor has no business on these pages: go on to the destination."""
        try:
            await self._signed_in_user()
        except service.SessionInvalid:
            return None
        return rx.redirect(self.next_path, replace=True)


class LoginFormState(_AuthFormState):
    """The login form: one error sentence, never saying whether the email exists."""

    error: rx.Field[str] = rx.field("")

    @rx.event
    def show_refusal(self, refusal: dict[str, Any]) -> EventSpec | None:
        """Say why the sign-in was refused; after wrong credentials, empty the password."""
        field_errors = _field_errors(refusal)
        self.error = next(iter(field_errors.values())) if field_errors else _refusal_sentence(refusal)
        return rx.set_value("password", "") if refusal.get("status") == 401 else None


class SignupFormState(_AuthFormState):
    """The sign-up form, with one error per field (and one for the form as a whole)."""

    email_error: rx.Field[str] = rx.field("")
    display_name_error: rx.Field[str] = rx.field("")
    password_error: rx.Field[str] = rx.field("")
    error: rx.Field[str] = rx.field("")

    @rx.event
    def show_refusal(self, refusal: dict[str, Any]) -> None:
        """Put each reason the account was not created next to its field."""
        field_errors = _field_errors(refusal)
        self.email_error = field_errors.pop("email", "")
        self.display_name_error = field_errors.pop("display_name", "")
        self.password_error = field_errors.pop("password", "")
        self.error = ""
        if refusal.get("status") == 409:
            self.email_error = EMAIL_TAKEN_MESSAGE
        elif refusal.get("status") != 422 or field_errors:
            self.error = next(iter(field_errors.values()), "") or _refusal_sentence(refusal)


def _field(label: str, name: str, error: rx.Var[str] | None = None, **input_props: Any) -> rx.Component:
    children: list[rx.Component] = [
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=name),
        rx.input(id=name, name=name, width="100%", size="3", **input_props),
    ]
    if error is not None:
        children.append(
            rx.cond(error != "", rx.text(error, id=f"{name}-error", size="2", color_scheme="red"))
        )
    return rx.vstack(*children, spacing="1", width="100%")


def _form_error(error: rx.Var[str], element_id: str) -> rx.Component:
    return rx.cond(
        error != "",
        rx.callout(
            error, id=element_id, icon="triangle_alert", color_scheme="red", role="alert", width="100%"
        ),
    )


def _auth_card(*children: rx.Component) -> rx.Component:
    """The signed-out pages' one card, inside the page's ``main`` landmark."""
    return rx.el.main(
        rx.center(
            rx.card(
                rx.vstack(*children, spacing="4", width="100%"), size="3", width="100%", max_width="26em"
            ),
            min_height="85vh",
            padding="1em",
        ),
        id="main",
    )


def login_page() -> rx.Component:
    """Sign in with email and password."""
    return _auth_card(
        rx.heading("Sign in", size="6"),
        session_form(
            rx.vstack(
                _field(
                    "Email",
                    "email",
                    type="text",
                    input_mode="email",
                    auto_complete="username",
                    auto_focus=True,
                ),
                _field("Password", "password", type="password", auto_complete="current-password"),
                _form_error(LoginFormState.error, "login-error"),
                rx.button("Sign in", type="submit", size="3", width="100%"),
                spacing="4",
                width="100%",
            ),
            action=BROWSER_LOGIN_PATH,
            next_path=LoginFormState.next_path,
            on_refused=LoginFormState.show_refusal,
            width="100%",
        ),
        rx.text(
            "New here? ",
            rx.link("Create an account", href=routes.SIGNUP + LoginFormState.next_query, underline="always"),
            size="2",
        ),
    )


def signup_page() -> rx.Component:
    """Create an account."""
    return _auth_card(
        rx.heading("Create an account", size="6"),
        session_form(
            rx.vstack(
                _field(
                    "Your name",
                    "display_name",
                    SignupFormState.display_name_error,
                    auto_complete="name",
                    auto_focus=True,
                ),
                _field(
                    "Email",
                    "email",
                    SignupFormState.email_error,
                    type="text",
                    input_mode="email",
                    auto_complete="username",
                ),
                _field(
                    "Password",
                    "password",
                    SignupFormState.password_error,
                    type="password",
                    auto_complete="new-password",
                ),
                rx.text(
                    f"At least {PASSWORD_MIN_CHARS} characters. Long passphrases, spaces and any "
                    "language are welcome; no special characters required.",
                    size="1",
                    color_scheme="gray",
                ),
                _form_error(SignupFormState.error, "signup-error"),
                rx.button("Create account", type="submit", size="3", width="100%"),
                spacing="4",
                width="100%",
            ),
            action=BROWSER_REGISTER_PATH,
            next_path=SignupFormState.next_path,
            on_refused=SignupFormState.show_refusal,
            width="100%",
        ),
        rx.text(
            "Already have an account? ",
            rx.link("Sign in", href=routes.LOGIN + SignupFormState.next_query, underline="always"),
            size="2",
        ),
    )


def logout_page() -> rx.Component:
    """Signs this browser out (the request is sent when the page is shown) and says so."""
    return _auth_card(
        sign_out(on_done=AuthState.signed_out),
        # rx.match of components gives a component; its type says "or a Var" for value matches
        cast(
            rx.Component,
            rx.match(
                AuthState.sign_out,
                (
                    "done",
                    rx.fragment(
                        rx.heading("You are signed out", size="6"),
                        rx.text("Your session has ended on the server; other open tabs are signed out too."),
                    ),
                ),
                (
                    "failed",
                    rx.fragment(
                        rx.heading("Signing out did not reach the server", size="6"),
                        rx.text(SERVER_UNREACHABLE_MESSAGE + " Open this page again to sign out."),
                    ),
                ),
                rx.hstack(rx.spinner(), rx.text("Signing you out…"), align="center"),
            ),
        ),
        rx.link(rx.button("Sign in again", size="3", width="100%"), href=routes.LOGIN),
    )
