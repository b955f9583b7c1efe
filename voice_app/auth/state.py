"""`AuthState`: who is signed in, for every page and every state that acts for a user.

The session token is in an ``HttpOnly`` cookie that only the backend sets and clears
(`voice_app.auth.browser_session`); no script on the page can read it, and this state never
holds it in a var (Reflex does not send the request's cookies to the page). The state reads the
token from the WebSocket handshake that carried the cookie, and only when that handshake came
from the app's own origin. The server decides whether it is still valid:
:meth:`AuthState._signed_in_user` resolves it through the same service the API uses, so a token
revoked or expired on the server is refused at the next action in any tab.

Signing out is said to the other tabs through a ``localStorage`` value that holds no secret
(``sync=True``): when it changes, each tab re-checks its session with the server and, now
refused, goes to the login page.

States that act for a user inherit from ``AuthState`` (or ``await self.get_state(AuthState)``)
and start their (async) handlers with ``user = await self._signed_in_user()``; on
``SessionInvalid`` return ``AuthState.check_login`` to send the visitor to the login page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

import reflex as rx
from reflex.event import EventCallback, EventSpec

from voice_app import routes
from voice_app.auth import service
from voice_app.auth.browser_session import origin_is_the_apps, session_token_from_cookies
from voice_app.auth.models import SignedInUser
from voice_app.db import DatabaseUnavailable, get_database
from voice_app.settings import get_settings

SIGNED_OUT_SIGNAL_KEY = "voice_app_signed_out"
"""The ``localStorage`` key whose change tells every tab that this browser signed out."""


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

    signed_out_at: str = rx.LocalStorage(name=SIGNED_OUT_SIGNAL_KEY, sync=True)
    """When this browser last signed out (any tab); no secret, only a signal to the other tabs."""
    sign_out: rx.Field[str] = rx.field("pending")
    """The logout page's request: ``pending``, ``done``, or ``failed`` (the server was not reached)."""

    def _session_token(self) -> str:
        """The session cookie of this tab's WebSocket handshake, if it came from the app's origin."""
        headers = self.router.headers
        settings = get_settings()
        if not origin_is_the_apps(origin=headers.origin, host=headers.host, settings=settings):
            return ""
        return session_token_from_cookies(headers.cookie, settings=settings)

    @rx.var
    async def authenticated_user(self) -> dict[str, str]:
        """``id``, ``email`` and ``display_name`` of the signed-in user, or empty when signed out.

        Recomputed when the connection (and so its cookie) changes, and when a tab signs out.
        """
        _ = self.signed_out_at  # a dependency: a sign-out in another tab recomputes this var
        token = self._session_token()
        if not token:
            return {}
        try:
            user = await get_database().run(
                partial(service.resolve_session, token=token, settings=get_settings(), touch=False)
            )
        except (service.SessionInvalid, DatabaseUnavailable):
            return {}
        return {"id": str(user.id), "email": user.email, "display_name": user.display_name}

    @rx.var
    async def is_authenticated(self) -> bool:
        """Whether a user is signed in (as far as the cached user knows; handlers re-check)."""
        return bool(await self.authenticated_user)

    async def _signed_in_user(self) -> SignedInUser:
        """The user of this browser's live session (refreshes its idle timer).

        Raises ``service.SessionInvalid`` when there is no session or the server refuses it, and
        `DatabaseUnavailable` when the database cannot say.
        """
        return await get_database().run(
            partial(service.resolve_session, token=self._session_token(), settings=get_settings())
        )

    def _here(self) -> str:
        url = self.router.url
        return f"{url.path}?{url.query}" if url.query else url.path

    @rx.event
    async def check_login(self) -> EventCallback[()] | EventSpec | None:
        """Send a visitor without a live session to the login page, and back here afterwards."""
        if not self.is_hydrated:
            return AuthState.check_login()  # the page's router data arrives with hydration
        try:
            await self._signed_in_user()
        except service.SessionInvalid:
            return rx.redirect(login_url(self._here()), replace=True)
        return None

    @rx.event
    def begin_sign_out(self) -> None:
        """The logout page is shown: its sign-out request is on its way."""
        self.sign_out = "pending"

    @rx.event
    def signed_out(self, result: dict[str, Any]) -> None:
        """The sign-out request ended (``result["ok"]``); tell the other tabs to re-check."""
        self.sign_out = "done" if result.get("ok") else "failed"
        self.signed_out_at = datetime.now(UTC).isoformat()
