"""What the agent remembers of a user's recent conversations, when the user turned memory on.

An extractive summary, made offline from stored messages: what the user said first in each of
their latest conversations ("Last time you asked about …"). The settings page shows the same
text the agent is given. Imports only SQLModel so the agent worker can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from voice_app.history.models import Conversation, ConversationMessage

REMEMBERED_CONVERSATIONS = 3
MESSAGES_PER_CONVERSATION = 2
MESSAGE_MAX_CHARS = 140


@dataclass(frozen=True)
class RememberedConversation:
    """One recent conversation, by what the user said first in it."""

    started_at: datetime
    said: list[str]


def recent_conversations(
    *,
    session: Session,
    user_id: int,
    current_job_id: str | None = None,
    limit: int = REMEMBERED_CONVERSATIONS,
) -> list[RememberedConversation]:
    """``user_id``'s latest conversations in which they said something, newest first."""
    query = (
        select(Conversation)
        .where(Conversation.user_id == user_id)
        .where(
            select(ConversationMessage.id)
            .where(ConversationMessage.conversation_id == Conversation.id, ConversationMessage.role == "user")
            .exists()
        )
        .order_by(col(Conversation.started_at).desc(), col(Conversation.id).desc())
        .limit(limit)
    )
    if current_job_id is not None:
        query = query.where(Conversation.agent_job_id != current_job_id)
    remembered: list[RememberedConversation] = []
    for conversation in session.exec(query).all():
        said = session.exec(
            select(ConversationMessage.text)
            .where(ConversationMessage.conversation_id == conversation.id, ConversationMessage.role == "user")
            .order_by(col(ConversationMessage.created_at), col(ConversationMessage.id))
            .limit(MESSAGES_PER_CONVERSATION)
        ).all()
        started = conversation.started_at
        remembered.append(
            RememberedConversation(
                started_at=started if started.tzinfo else started.replace(tzinfo=UTC),
                said=[_shortened(text) for text in said],
            )
        )
    return remembered


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_MAX_CHARS else text[: MESSAGE_MAX_CHARS - 1].rstrip() + "…"


def memory_summary(conversations: list[RememberedConversation], *, subject: str = "you") -> str:
    """The summary as one paragraph ("Last time you asked about …"); empty when there is nothing.

    ``subject`` is who asked: "you" on the settings page, "the user" in the agent's instructions
    (where "you" is the agent).
    """
    sentences: list[str] = []
    for index, conversation in enumerate(conversations):
        quoted = " and ".join(f'"{text}"' for text in conversation.said)
        day = f"{conversation.started_at:%B} {conversation.started_at.day}"
        opening = f"Last time {subject} asked about" if index == 0 else f"On {day} {subject} said"
        sentences.append(f"{opening} {quoted}.")
    return " ".join(sentences)


def remembered_for(
    *, session: Session, user_id: int, current_job_id: str | None = None, subject: str = "you"
) -> str:
    """What is remembered of ``user_id``'s recent conversations (empty if nothing)."""
    return memory_summary(
        recent_conversations(session=session, user_id=user_id, current_job_id=current_job_id), subject=subject
    )
