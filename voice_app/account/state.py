"""`AccountState`: the signed-in user deletes their account from the account page."""

from __future__ import annotations

from contextlib import suppress

import reflex as rx
from reflex.event import EventCallback, EventSpec
from sqlmodel import Session

from voice_app import routes
from voice_app.account import removal
from voice_app.auth import service as auth_service
from voice_app.auth.state import AuthState
from voice_app.db import get_engine


class AccountState(AuthState):
    """Deleting the account: everything of the user goes, and every tab is signed out."""

    @rx.event
    def delete_account(self) -> EventCallback | EventSpec | None:
        """Delete the account with all its data (the same service as ``DELETE /api/me``)."""
        try:
            user = self._signed_in_user()
        except auth_service.SessionInvalid:
            return AuthState.check_login
        with Session(get_engine()) as session, suppress(removal.AccountNotFound):
            removal.delete_account(session=session, user_id=user.id)
        # The next page clears the session cookie (only an HTTP response can) and signs out the
        # other tabs; doing it here would have this page's login guard send the user to sign in.
        return rx.redirect(routes.ACCOUNT_DELETED, replace=True)
