"""Finding what a user said in their earlier conversations (the agent's recall tool reads this).

Only the user's own conversations are searched, never the one in progress. Matching is by
words (any of the query's words of three letters or more, in any letter case); a query with no
such words, or none found, gives the latest earlier conversation instead, which is what "what
did we talk about last time?" asks for. Imports only SQLModel, like ``models.py``, so the agent
worker can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from voice_app.history.models import Conversation, ConversationMessage

MIN_WORD_LENGTH = 3
_STOP_WORDS_TEXT = (
    "about again all and any are did for from had has have how last me my our said talk talked "
    "tell the them then there this time told was we were what when where which who why with you "
    "your earlier before previous conversation conversations"
)
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
"""Words of recall questions themselves, which would match nearly every conversation."""


@dataclass(frozen=True)
class RecalledMessage:
    """One earlier message: when its conversation started, who said it, and what."""

    conversation_id: int
    conversation_started_at: datetime
    role: str
    text: str


def query_words(query: str) -> list[str]:
    """The words of ``query`` worth searching for, lower-cased, without duplicates."""
    words = [word for word in re.findall(r"\w+", query.lower()) if len(word) >= MIN_WORD_LENGTH]
    return list(dict.fromkeys(word for word in words if word not in STOP_WORDS))


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def recall_messages(
    *, session: Session, user_id: int, query: str, current_job_id: str | None, limit: int = 8
) -> list[RecalledMessage]:
    """Messages of ``user_id``'s earlier conversations that match ``query``, oldest first.

    Without matching words (or matches), the latest earlier conversation's first ``limit``
    messages. Tool messages are not searched: they only repeat what was said.
    """
    earlier = select(ConversationMessage, Conversation.started_at).join(
        Conversation, col(Conversation.id) == ConversationMessage.conversation_id
    )
    earlier = earlier.where(
        Conversation.user_id == user_id, col(ConversationMessage.role).in_(("user", "agent"))
    )
    if current_job_id is not None:
        earlier = earlier.where(Conversation.agent_job_id != current_job_id)
    rows: list[tuple[ConversationMessage, datetime]] = []
    if words := query_words(query):
        matches = [func.lower(ConversationMessage.text).contains(word, autoescape=True) for word in words]
        rows = list(
            session.exec(
                earlier.where(or_(*matches))
                .order_by(col(ConversationMessage.created_at).desc(), col(ConversationMessage.id).desc())
                .limit(limit)
            ).all()
        )
        rows.reverse()
    if not rows:
        latest = session.exec(
            earlier.order_by(
                col(ConversationMessage.created_at).desc(), col(ConversationMessage.id).desc()
            ).limit(1)
        ).first()
        if latest is None:
            return []
        rows = list(
            session.exec(
                earlier.where(ConversationMessage.conversation_id == latest[0].conversation_id)
                .order_by(col(ConversationMessage.created_at), col(ConversationMessage.id))
                .limit(limit)
            ).all()
        )
    return [
        RecalledMessage(
            conversation_id=message.conversation_id,
            conversation_started_at=_as_utc(started_at),
            role=message.role,
            text=message.text,
        )
        for message, started_at in rows
    ]
