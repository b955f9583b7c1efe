"""The Reflex app: pages and the API. Nothing else lives here."""

import reflex as rx

from voice_app import models as models  # registers every table for Alembic; `as` marks it wanted
from voice_app import routes
from voice_app.account import pages as account_pages
from voice_app.api import serve_api_beside
from voice_app.app_settings import APP_SETTINGS
from voice_app.auth import pages as auth_pages
from voice_app.auth.state import AuthState
from voice_app.history import pages as history_pages
from voice_app.history.state import DETAIL_ROUTE, HistoryState
from voice_app.logs import configure_backend_logging, known_secrets, log_level_lifespan
from voice_app.page_errors import show_backend_error
from voice_app.preferences import pages as preferences_pages
from voice_app.preferences.state import PreferencesState
from voice_app.rooms.livekit_client import livekit_client_lifespan
from voice_app.security.middleware import add_security_headers, limit_request_bodies
from voice_app.settings import get_settings
from voice_app.talk import pages as talk_pages
from voice_app.talk.state import TalkState


def index() -> rx.Component:
    """The home page only sends visitors on to the talk page (see its ``on_load``)."""
    return rx.center(rx.spinner(size="3"), height="100vh")


settings = get_settings()
configure_backend_logging(settings.LOG_LEVEL, known_secrets(settings))

app = rx.App(
    # Applied in order, each wrapping the last: the security headers also reach the 413s.
    api_transformer=[serve_api_beside, limit_request_bodies, add_security_headers],
    head_components=[rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml")],
    backend_exception_handler=show_backend_error,
)
app.register_lifespan_task(livekit_client_lifespan)
app.register_lifespan_task(log_level_lifespan)
app.add_page(
    index, route=routes.HOME, title=APP_SETTINGS.page_title(), on_load=rx.redirect(routes.TALK, replace=True)
)
app.add_page(
    auth_pages.signup_page,
    route=routes.SIGNUP,
    title=APP_SETTINGS.page_title("Create an account"),
    on_load=auth_pages.SignupFormState.redirect_if_signed_in,
)
app.add_page(
    auth_pages.login_page,
    route=routes.LOGIN,
    title=APP_SETTINGS.page_title("Sign in"),
    on_load=auth_pages.LoginFormState.redirect_if_signed_in,
)
app.add_page(
    auth_pages.logout_page,
    route=routes.LOGOUT,
    title=APP_SETTINGS.page_title("Signed out"),
    on_load=AuthState.begin_sign_out,
)
app.add_page(
    talk_pages.talk_page,
    route=routes.TALK,
    title=APP_SETTINGS.page_title("Talk"),
    on_load=TalkState.reset_on_load,
)
app.add_page(
    history_pages.history_page,
    route=routes.HISTORY,
    title=APP_SETTINGS.page_title("History"),
    on_load=HistoryState.load_list,
)
app.add_page(
    history_pages.conversation_page,
    route=DETAIL_ROUTE,
    title=APP_SETTINGS.page_title("Conversation"),
    on_load=HistoryState.load_detail,
)
app.add_page(
    preferences_pages.settings_page,
    route=routes.SETTINGS,
    title=APP_SETTINGS.page_title("Settings"),
    on_load=PreferencesState.load,
)
app.add_page(account_pages.account_page, route=routes.ACCOUNT, title=APP_SETTINGS.page_title("Your account"))
app.add_page(
    account_pages.account_deleted_page,
    route=routes.ACCOUNT_DELETED,
    title=APP_SETTINGS.page_title("Account deleted"),
)
