"""Sign-up, login and logout pages, and the small states behind their forms.

The forms call the same service functions as the REST API and validate with the same models,
so a browser user and an API client get the same rules and the same words.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import reflex as rx
from pydantic import ValidationError
from reflex.event import EventSpec
from sqlmodel import Session

from voice_app import routes
from voice_app.auth import service
from voice_app.auth.models import UserLogin, UserRegister
from voice_app.auth.state import AuthState, safe_next_path
from voice_app.auth.throttle import get_login_throttle
from voice_app.auth.validation import PASSWORD_MIN_CHARS
from voice_app.db import get_engine
from voice_app.settings import get_settings


def _field_errors(error: ValidationError) -> dict[str, str]:
    """The first message for each field, keyed by field name."""
    messages: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        messages.setdefault(field, item["msg"])
    return messages


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
    def redirect_if_signed_in(self) -> EventSpec | None:
        """A signed-in visitor has no business on these pages: go on to the destination."""
        try:
            self._signed_in_user()
        except service.SessionInvalid:
            return None
        return rx.redirect(self.next_path, replace=True)


class LoginFormState(_AuthFormState):
    """The login form: one error sentence, never saying whether the email exists."""

    error: str = ""

    @rx.event
    async def submit(self, form_data: dict[str, Any]) -> EventSpec | None:
        """Check the credentials, start a session, and go where the visitor was going."""
        self.error = ""
        try:
            credentials = UserLogin.model_validate(
                {"email": form_data.get("email", ""), "password": form_data.get("password", "")}
            )
        except ValidationError as error:
            self.error = next(iter(_field_errors(error).values()))
            return None
        with Session(get_engine()) as session:
            try:
                user = await service.authenticate(
                    session=session,
                    email=credentials.email,
                    password=credentials.password,
                    client_address=self.router.session.client_ip,
                    throttle=get_login_throttle(),
                )
            except service.InvalidCredentials:
                self.error = service.INVALID_CREDENTIALS_MESSAGE
                return rx.set_value("password", "")
            except service.TooManyAttempts as error:
                self.error = f"Too many failed sign-ins. Try again in {error.retry_after} seconds."
                return None
            issued = service.create_login_session(session=session, user=user, settings=get_settings())
        self.auth_token = issued.token
        return rx.redirect(self.next_path, replace=True)


class SignupFormState(_AuthFormState):
    """The sign-up form, with one error per field."""

    email_error: str = ""
    display_name_error: str = ""
    password_error: str = ""

    @rx.event
    async def submit(self, form_data: dict[str, Any]) -> EventSpec | None:
        """Create the account, sign the new user in, and go where they were going."""
        self.email_error = self.display_name_error = self.password_error = ""
        try:
            registration = UserRegister.model_validate(
                {name: form_data.get(name, "") for name in ("email", "display_name", "password")}
            )
        except ValidationError as error:
            errors = _field_errors(error)
            self.email_error = errors.get("email", "")
            self.display_name_error = errors.get("display_name", "")
            self.password_error = errors.get("password", "")
            return None
        with Session(get_engine()) as session:
            try:
                user = await service.register_user(session=session, registration=registration)
            except service.EmailTaken:
                self.email_error = "An account with this email already exists. Sign in instead."
                return None
            issued = service.create_login_session(session=session, user=user, settings=get_settings())
        self.auth_token = issued.token
        return rx.redirect(self.next_path, replace=True)


def _field(label: str, name: str, error: rx.Var[str] | None = None, **input_props: Any) -> rx.Component:
    children = [
        rx.el.label(rx.text(label, size="2", weight="medium"), html_for=name),
        rx.input(id=name, name=name, width="100%", size="3", **input_props),
    ]
    if error is not None:
        children.append(
            rx.cond(error != "", rx.text(error, id=f"{name}-error", size="2", color_scheme="red"))
        )
    return rx.vstack(*children, spacing="1", width="100%")


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
        rx.form(
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
                rx.cond(
                    LoginFormState.error != "",
                    rx.callout(
                        LoginFormState.error,
                        id="login-error",
                        icon="triangle_alert",
                        color_scheme="red",
                        role="alert",
                        width="100%",
                    ),
                ),
                rx.button("Sign in", type="submit", size="3", width="100%"),
                spacing="4",
                width="100%",
            ),
            on_submit=LoginFormState.submit,
            reset_on_submit=False,
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
        rx.form(
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
                rx.button("Create account", type="submit", size="3", width="100%"),
                spacing="4",
                width="100%",
            ),
            on_submit=SignupFormState.submit,
            reset_on_submit=False,
            width="100%",
        ),
        rx.text(
            "Already have an account? ",
            rx.link("Sign in", href=routes.LOGIN + SignupFormState.next_query, underline="always"),
            size="2",
        ),
    )


def logout_page() -> rx.Component:
    """Shown after signing out (the page's on_load does the signing out)."""
    return _auth_card(
        rx.heading("You are signed out", size="6"),
        rx.text("Your session has ended on the server; other open tabs are signed out too."),
        rx.link(rx.button("Sign in again", size="3", width="100%"), href=routes.LOGIN),
    )
