"""`AuthState`: who is signed in, for every page and every state that acts for a user.

The session token lives in the browser's localStorage (so a reload keeps the user signed in,
and ``sync=True`` carries a sign-out to the other tabs). The server decides whether it is
still valid: :meth:`AuthState._signed_in_user` resolves it through the same service the API
uses, so a token revoked or expired on the server is refused at the next action in any tab.

States that act for a user inherit from ``AuthState`` (or ``await self.get_state(AuthState)``)
and start their handlers with ``user = self._signed_in_user()``; on ``SessionInvalid`` return
``AuthState.check_login`` to send the visitor to the login page.
"""

from __future__ import annotations

from urllib.parse import quote

import reflex as rx
from reflex.event import EventCallback, EventSpec
from sqlmodel import Session

from voice_app import routes
from voice_app.auth import service
from voice_app.auth.models import SignedInUser
from voice_app.db import get_engine
from voice_app.settings import get_settings

TOKEN_STORAGE_KEY = "voice_app_session"  # noqa: S105 - the localStorage key, not a secret


def safe_next_path(candidate: str) -> str:
    """``candidate`` if it is a path on this site (not the auth pages), else the talk page.

    Only same-site paths are accepted so `?next=` cannot send a user to another site.
    """
    if (
        not candidate.startswith("/")
        or candidate.startswith("//")
        or "\\" in candidate
        or any(ord(char) < 32 for char in candidate)
    ):
        return routes.TALK
    path = candidate.split("?", 1)[0]
    if path in (routes.LOGIN, routes.SIGNUP, routes.LOGOUT):
        return routes.TALK
    return candidate


def login_url(next_path: str) -> str:
    """The login page, returning to ``next_path`` afterwards."""
    return f"{routes.LOGIN}?next={quote(safe_next_path(next_path), safe='/')}"


class AuthState(rx.State):
    """The signed-in user (if any) and sign-out; the base of every state that acts for a user."""

    auth_token: str = rx.LocalStorage(name=TOKEN_STORAGE_KEY, sync=True)

    @rx.var
    def authenticated_user(self) -> dict[str, str]:
        """``id``, ``email`` and ``display_name`` of the signed-in user, or empty when signed out.

        Cached per token: it is recomputed when the token changes, and :meth:`check_login`
        clears the token when the server no longer accepts it.
        """
        if not self.auth_token:
            return {}
        with Session(get_engine()) as session:
            try:
                user = service.resolve_session(
                    session=session, token=self.auth_token, settings=get_settings(), touch=False
                )
            except service.SessionInvalid:
                return {}
            return {"id": str(user.id), "email": user.email, "display_name": user.display_name}

    @rx.var
    def is_authenticated(self) -> bool:
        """Whether a user is signed in (as far as the cached user knows; handlers re-check)."""
        return bool(self.authenticated_user)

    def _signed_in_user(self) -> SignedInUser:
        """The user of this browser's live session (refreshes its idle timer).

        Raises ``service.SessionInvalid`` and forgets the token when the server refuses it.
        """
        with Session(get_engine()) as session:
            try:
                user = service.resolve_session(
                    session=session, token=self.auth_token, settings=get_settings()
                )
            except service.SessionInvalid:
                self.auth_token = ""
                raise
            return user

    def _here(self) -> str:
        url = self.router.url
        return f"{url.path}?{url.query}" if url.query else url.path

    @rx.event
    def check_login(self) -> EventCallback | EventSpec | None:
        """Send a visitor without a live session to the login page, and back here afterwards."""
        if not self.is_hydrated:
            return AuthState.check_login()  # the token is known only once the page has hydrated
        try:
            self._signed_in_user()
        except service.SessionInvalid:
            return rx.redirect(login_url(self._here()), replace=True)
        return None

    @rx.event
    def logout(self) -> None:
        """Sign this browser's session out on the server and forget the token in every tab."""
        if self.auth_token:
            with Session(get_engine()) as session:
                service.revoke_session(session=session, token=self.auth_token)
        self.auth_token = ""
