"""A replacement agent picks the conversation up where the lost one left it.

The stored messages are the conversation's memory (the lost process's memory is gone): the new
agent reads the room's latest unfinished conversation of this user, gives its messages to the LLM
as the chat so far, and keeps writing into the same history entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from livekit.agents import llm
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from voice_app.history.models import Conversation, ConversationMessage

LLM_ROLES = {"user": "user", "agent": "assistant"}


@dataclass(frozen=True)
class EarlierConversation:
    """The stored part of a conversation that a lost agent was having."""

    conversation_id: int
    messages: list[tuple[str, str]]
    """``(role, text)`` oldest first; role is ``user`` or ``agent`` as stored."""

    def chat_context(self) -> llm.ChatContext:
        """The messages as the LLM's chat history."""
        chat_ctx = llm.ChatContext()
        for role, text in self.messages:
            chat_ctx.add_message(role=LLM_ROLES.get(role, "user"), content=text)  # type: ignore[arg-type]
        return chat_ctx


def earlier_conversation(engine: Engine, *, user_id: int, room_name: str) -> EarlierConversation | None:
    """The user's latest unfinished conversation in ``room_name``, or None. Blocking: run in a thread."""
    with Session(engine) as session:
        conversation = session.exec(
            select(Conversation)
            .where(Conversation.user_id == user_id, Conversation.room_name == room_name)
            .where(col(Conversation.ended_at).is_(None))
            .order_by(col(Conversation.id).desc())
            .limit(1)
        ).first()
        if conversation is None or conversation.id is None:
            return None
        messages = session.exec(
            select(ConversationMessage)
            .where(ConversationMessage.conversation_id == conversation.id)
            .order_by(col(ConversationMessage.created_at), col(ConversationMessage.id))
        ).all()
        return EarlierConversation(conversation.id, [(m.role, m.text) for m in messages])
