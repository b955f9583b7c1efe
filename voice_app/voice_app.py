"""The Reflex app: pages and the API. Nothing else lives here."""

import reflex as rx

from voice_app import routes
from voice_app.api import fastapi_app
from voice_app.auth import pages as auth_pages
from voice_app.auth.state import AuthState
from voice_app.models import __all__ as _tables  # noqa: F401 - registers every table for Alembic
from voice_app.rooms.livekit_client import livekit_client_lifespan


def index() -> rx.Component:
    """Landing page (replaced by the talk page once it exists)."""
    return rx.center(rx.heading("voice-app"), height="100vh")


app = rx.App(api_transformer=fastapi_app)
app.register_lifespan_task(livekit_client_lifespan)
app.add_page(index, route=routes.HOME, title="voice-app")
app.add_page(auth_pages.signup_page, route=routes.SIGNUP, title="Create an account · voice-app",
             on_load=auth_pages.SignupFormState.redirect_if_signed_in)
app.add_page(auth_pages.login_page, route=routes.LOGIN, title="Sign in · voice-app",
             on_load=auth_pages.LoginFormState.redirect_if_signed_in)
app.add_page(auth_pages.logout_page, route=routes.LOGOUT, title="Signed out · voice-app", on_load=AuthState.logout)
