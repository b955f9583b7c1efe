"""`ConversationDataState`: download a saved conversation, delete one, delete all.

The handlers call the same services as the REST API (`voice_app.history.api`), so the page and
an API client get the same files and the same rules.
"""

from __future__ import annotations

from contextlib import suppress
from functools import partial

import reflex as rx
from reflex.event import EventCallback, EventSpec

from voice_app import routes
from voice_app.auth import service as auth_service
from voice_app.auth.state import AuthState
from voice_app.db import get_database
from voice_app.history import download, removal, service
from voice_app.history.state import HistoryState


class ConversationDataState(HistoryState):
    """Download and delete, for the history list and a conversation's page."""

    def _conversation_id_in_address(self) -> int | None:
        raw_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        return int(raw_id) if raw_id.isdigit() else None

    @rx.event
    async def download_current(self, file_format: str) -> EventCallback[()] | EventSpec | None:
        """Save the open conversation as ``markdown`` or ``json`` on the user's computer."""
        try:
            user = await self._signed_in_user()
        except auth_service.SessionInvalid:
            return AuthState.check_login
        conversation_id = self._conversation_id_in_address()
        chosen: download.DownloadFormat = "json" if file_format == "json" else "markdown"
        try:
            found = await get_database().run(
                partial(service.get_conversation, user_id=user.id, conversation_id=conversation_id or 0)
            )
        except service.ConversationNotFound:
            self.detail_missing = True
            return None
        return rx.download(
            data=download.render(found, chosen),
            filename=download.download_filename(found, chosen),
            mime_type=download.MEDIA_TYPES[chosen].split(";")[0],
        )

    @rx.event
    async def delete_current(self) -> EventCallback[()] | EventSpec | list[EventSpec] | None:
        """Delete the open conversation and go back to the list."""
        try:
            user = await self._signed_in_user()
        except auth_service.SessionInvalid:
            return AuthState.check_login
        delete = partial(
            removal.delete_conversation,
            user_id=user.id,
            conversation_id=self._conversation_id_in_address() or 0,
        )
        # Gone already (deleted in another tab) is what the user asked for.
        with suppress(service.ConversationNotFound):
            await get_database().run(delete)
        return [rx.redirect(routes.HISTORY), rx.toast.success("The conversation was deleted.")]

    @rx.event
    async def delete_all(self) -> EventCallback[()] | EventSpec | list[EventSpec] | None:
        """Delete every conversation of the user."""
        try:
            user = await self._signed_in_user()
        except auth_service.SessionInvalid:
            return AuthState.check_login
        deleted = await get_database().run(partial(removal.delete_all_conversations, user_id=user.id))
        self.conversations = []
        self.loaded = True
        return rx.toast.success(f"{deleted} conversation{'s' if deleted != 1 else ''} deleted.")
