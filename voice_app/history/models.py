"""Saved conversations: written by the agent worker, read by the history pages.

This module imports only SQLModel so the agent worker can share it without pulling in
Reflex (see README, "Why the worker writes to the database directly").
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from voice_app.auth.models import utc_now

MessageRole = Literal["user", "agent", "tool"]
MessageSource = Literal["spoken", "typed", "call", "result"]
"""A ``tool`` message is a tool call the agent made: its ``call`` (what the page showed while it
ran) and its ``result``."""


class Conversation(SQLModel, table=True):
    """One agent session in one room with one user."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    room_name: str = Field(max_length=128, index=True)
    agent_job_id: str = Field(max_length=128, unique=True)
    started_at: datetime = Field(default_factory=utc_now)
    ended_at: datetime | None = None


class ConversationMessage(SQLModel, table=True):
    """A final user or agent message (spoken transcript or typed chat), or a tool call's part."""

    __tablename__ = "conversation_message"  # pyright: ignore[reportAssignmentType] - SQLModel declares a declared_attr

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    message_key: str | None = Field(default=None, max_length=160, unique=True, index=True)
    """Unique per message (the job and its order there): a write retried after a lost commit
    finds its row instead of storing the message twice."""
    role: str = Field(max_length=8)
    source: str = Field(max_length=8)
    text: str
    created_at: datetime = Field(default_factory=utc_now, index=True)
