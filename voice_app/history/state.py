"""`HistoryState`: the signed-in user's past conversations, for the list and the detail page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

import reflex as rx
from reflex.event import EventCallback

from voice_app import routes
from voice_app.auth import service as auth_service
from voice_app.auth.state import AuthState
from voice_app.db import get_database
from voice_app.history import service
from voice_app.history.service import ConversationSummary

DETAIL_ROUTE = f"{routes.HISTORY}/[conversation_id]"
"""The detail page's route; ``conversation_id`` becomes a dynamic route argument."""


def detail_path(conversation_id: int | str) -> str:
    """The address of one conversation's transcript."""
    return f"{routes.HISTORY}/{conversation_id}"


def format_moment(moment: datetime) -> str:
    """``Thu 27 Nov 2025, 08:21 UTC``: unambiguous wherever the reader is."""
    return moment.strftime("%a %d %b %Y, %H:%M UTC")


def format_duration(started: datetime, ended: datetime | None) -> str:
    """``4 min 05 s``, or ``still open`` for a conversation the worker has not closed."""
    if ended is None:
        return "still open"
    seconds = max(0, round((ended - started).total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


@dataclass
class ConversationRow:
    """A conversation as the list shows it."""

    id: int
    href: str
    started: str
    started_iso: str
    duration: str
    messages: str
    preview: str


@dataclass
class TranscriptRow:
    """One message as the detail page shows it."""

    role: str
    source: str
    text: str
    time: str
    time_iso: str


def _row(summary: ConversationSummary) -> ConversationRow:
    count = summary.message_count
    return ConversationRow(
        id=summary.id,
        href=detail_path(summary.id),
        started=format_moment(summary.started_at),
        started_iso=summary.started_at.isoformat(),
        duration=format_duration(summary.started_at, summary.ended_at),
        messages=f"{count} message{'s' if count != 1 else ''}",
        preview=summary.preview,
    )


class HistoryState(AuthState):
    """The list of conversations and the one being read."""

    conversations: rx.Field[list[ConversationRow]] = rx.field([])
    loaded: bool = False
    detail: rx.Field[ConversationRow | None] = rx.field(None)
    transcript: rx.Field[list[TranscriptRow]] = rx.field([])
    detail_missing: bool = False

    @rx.event
    async def load_list(self) -> EventCallback[()] | None:
        """Read the signed-in user's conversations, newest first."""
        try:
            user = await self._signed_in_user()
        except auth_service.SessionInvalid:
            return AuthState.check_login
        summaries = await get_database().run(partial(service.list_conversations, user_id=user.id))
        self.conversations = [_row(summary) for summary in summaries]
        self.loaded = True
        return None

    @rx.event
    async def load_detail(self) -> EventCallback[()] | None:
        """Read the conversation named in the address, if it is the user's."""
        self.detail, self.transcript, self.detail_missing = None, [], False
        try:
            user = await self._signed_in_user()
        except auth_service.SessionInvalid:
            return AuthState.check_login
        raw_id = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        if not raw_id.isdigit():
            self.detail_missing = True
            return None
        try:
            found = await get_database().run(
                partial(service.get_conversation, user_id=user.id, conversation_id=int(raw_id))
            )
        except service.ConversationNotFound:
            self.detail_missing = True
            return None
        self.detail = _row(found.conversation)
        self.transcript = [
            TranscriptRow(
                role=entry.role,
                source=entry.source,
                text=entry.text,
                time=entry.created_at.strftime("%H:%M:%S"),
                time_iso=entry.created_at.isoformat(),
            )
            for entry in found.messages
        ]
        return None
