"""`AccountState`: the signed-in user deletes their account from the account page."""

from __future__ import annotations

from contextlib import suppress
from functools import partial

import reflex as rx
from reflex.event import EventCallback, EventSpec

from voice_app import routes
from voice_app.account import removal
from voice_app.auth import service as auth_service
from voice_app.auth.state import AuthState
from voice_app.db import get_database


class AccountState(AuthState):
    """Deleting the account: everything of the user goes, and every tab is signed out."""

    @rx.event
    async def delete_account(self) -> EventCallback[()] | EventSpec | None:
        """Delete the account with all its data (the same service as ``DELETE /api/me``)."""
        try:
            user = await self._signed_in_user()
        except auth_service.SessionInvalid:
            return AuthState.check_login
        with suppress(removal.AccountNotFound):
            await get_database().run(partial(removal.delete_account, user_id=user.id))
        # The next page clears the session cookie (only an HTTP response can) and signs out the
        # other tabs; doing it here would have this page's login guard send the user to sign in.
        return rx.redirect(routes.ACCOUNT_DELETED, replace=True)
