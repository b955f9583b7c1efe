"""Reading saved conversations: a user's list, and one conversation's full transcript.

The agent worker writes these rows (see ``voice_app/history/models.py``); this module only
reads them, and only for their owner: another user's conversation is reported exactly as a
missing one, so ids reveal nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from voice_app.history.models import Conversation, ConversationMessage

PREVIEW_MAX_CHARS = 120


class ConversationNotFound(LookupError):
    """No conversation with this id belongs to this user."""


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the history list."""

    id: int
    room_name: str
    started_at: datetime
    ended_at: datetime | None
    message_count: int
    preview: str
    """The start of the first thing the user said or typed (empty if they said nothing)."""


@dataclass(frozen=True)
class TranscriptEntry:
    """One message of a saved conversation."""

    role: str
    source: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class ConversationTranscript:
    """A conversation with all its messages, oldest first."""

    conversation: ConversationSummary
    messages: list[TranscriptEntry]


def _as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time the app stores is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _preview(text: str | None) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_MAX_CHARS else text[: PREVIEW_MAX_CHARS - 1].rstrip() + "…"


def list_conversations(*, session: Session, user_id: int, limit: int = 200) -> list[ConversationSummary]:
    """``user_id``'s conversations, newest first, with message counts and a preview."""
    message_count = (
        select(func.count(col(ConversationMessage.id)))
        .where(ConversationMessage.conversation_id == Conversation.id)
        .scalar_subquery()
    )
    first_user_text = (
        select(ConversationMessage.text)
        .where(ConversationMessage.conversation_id == Conversation.id, ConversationMessage.role == "user")
        .order_by(col(ConversationMessage.created_at), col(ConversationMessage.id))
        .limit(1)
        .scalar_subquery()
    )
    rows = session.exec(
        select(Conversation, message_count, first_user_text)
        .where(Conversation.user_id == user_id)
        .order_by(col(Conversation.started_at).desc(), col(Conversation.id).desc())
        .limit(limit)
    ).all()
    return [
        _summary(conversation, count=count, preview=_preview(first_text))
        for conversation, count, first_text in rows
    ]


def _summary(conversation: Conversation, *, count: int, preview: str) -> ConversationSummary:
    assert conversation.id is not None
    return ConversationSummary(
        id=conversation.id,
        room_name=conversation.room_name,
        started_at=_as_utc(conversation.started_at),
        ended_at=_as_utc(conversation.ended_at) if conversation.ended_at else None,
        message_count=count,
        preview=preview,
    )


def get_conversation(*, session: Session, user_id: int, conversation_id: int) -> ConversationTranscript:
    """The full transcript of ``conversation_id`` if ``user_id`` owns it.

    Raises:
        ConversationNotFound: it does not exist or belongs to someone else.

    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user_id:
        raise ConversationNotFound(conversation_id)
    messages = session.exec(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(col(ConversationMessage.created_at), col(ConversationMessage.id))
    ).all()
    entries = [
        TranscriptEntry(role=m.role, source=m.source, text=m.text, created_at=_as_utc(m.created_at))
        for m in messages
    ]
    first_user = next((entry.text for entry in entries if entry.role == "user"), "")
    return ConversationTranscript(
        conversation=_summary(conversation, count=len(entries), preview=_preview(first_user)),
        messages=entries,
    )
