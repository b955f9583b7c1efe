"""`PreferencesState`: the settings page, where a user chooses memory and push-to-talk.

The choices are stored on the account (``voice_app/memory/preferences.py``) as soon as a switch
moves, and the agent worker reads them when the next conversation starts. With memory on, the
page shows exactly the summary the agent will be given.
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventCallback
from sqlmodel import Session

from voice_app.auth import service as auth_service
from voice_app.auth.state import AuthState
from voice_app.db import get_database
from voice_app.memory.preferences import Preferences, get_preferences, set_preferences
from voice_app.memory.summary import remembered_for


class PreferencesState(AuthState):
    """The signed-in user's preferences, as the settings page shows them."""

    memory: rx.Field[bool] = rx.field(False)
    push_to_talk: rx.Field[bool] = rx.field(False)
    remembered: rx.Field[str] = rx.field("")
    loaded: rx.Field[bool] = rx.field(False)
    saved: rx.Field[str] = rx.field("")
    """Said politely to screen readers after a change is stored ("Memory is on.")."""

    @rx.event
    async def load(self) -> EventCallback[()] | None:
        """Read the user's preferences and what the agent would remember now."""
        try:
            user = await self._signed_in_user()
        except auth_service.SessionInvalid:
            return AuthState.check_login

        def read(session: Session) -> tuple[Preferences, str]:
            preferences = get_preferences(session=session, user_id=user.id)
            return preferences, remembered_for(session=session, user_id=user.id) if preferences.memory else ""

        preferences, self.remembered = await get_database().run(read)
        self.memory, self.push_to_talk = preferences.memory, preferences.push_to_talk
        self.loaded, self.saved = True, ""
        return None

    @rx.event
    async def set_memory(self, enabled: bool) -> EventCallback[()] | None:
        """Turn memory across conversations on or off."""
        return await self._store(Preferences(memory=bool(enabled), push_to_talk=self.push_to_talk))

    @rx.event
    async def set_push_to_talk(self, enabled: bool) -> EventCallback[()] | None:
        """Choose push-to-talk (on) or the open microphone (off)."""
        return await self._store(Preferences(memory=self.memory, push_to_talk=bool(enabled)))

    async def _store(self, preferences: Preferences) -> EventCallback[()] | None:
        try:
            user = await self._signed_in_user()
        except auth_service.SessionInvalid:
            return AuthState.check_login

        def write(session: Session) -> str:
            set_preferences(session=session, user_id=user.id, preferences=preferences)
            return remembered_for(session=session, user_id=user.id) if preferences.memory else ""

        self.remembered = await get_database().run(write)
        changed = "Memory" if preferences.memory != self.memory else "Push-to-talk"
        now_on = preferences.memory if changed == "Memory" else preferences.push_to_talk
        self.memory, self.push_to_talk = preferences.memory, preferences.push_to_talk
        self.saved = f"{changed} is {'on' if now_on else 'off'}. Saved."
        return None
