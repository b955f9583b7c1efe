"""Deleting saved conversations: one, or all of a user's.

A conversation's messages go with it, in the same transaction. As when reading, another user's
conversation is reported exactly as a missing one. A conversation the agent worker is still
writing loses its later messages too: the database refuses them once their conversation is gone
(the worker logs the failed write and the conversation goes on).
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col, select

from voice_app.history.models import Conversation, ConversationMessage
from voice_app.history.service import ConversationNotFound


def delete_conversation(*, session: Session, user_id: int, conversation_id: int) -> None:
    """Delete ``conversation_id`` and its messages if ``user_id`` owns it.

    Raises:
        ConversationNotFound: it does not exist or belongs to someone else.

    """
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user_id:
        raise ConversationNotFound(conversation_id)
    session.exec(
        delete(ConversationMessage).where(col(ConversationMessage.conversation_id) == conversation_id)
    )
    session.exec(delete(Conversation).where(col(Conversation.id) == conversation_id))
    session.commit()


def delete_all_conversations(*, session: Session, user_id: int, commit: bool = True) -> int:
    """Delete every conversation of ``user_id`` with its messages; returns how many there were."""
    owned = select(Conversation.id).where(Conversation.user_id == user_id)
    session.exec(delete(ConversationMessage).where(col(ConversationMessage.conversation_id).in_(owned)))
    result = session.exec(delete(Conversation).where(col(Conversation.user_id) == user_id))
    if commit:
        session.commit()
    return result.rowcount or 0
