"""Recall of the user's earlier conversations: searching their stored messages."""

from __future__ import annotations

import asyncio
from datetime import datetime

from livekit.agents import RunContext, ToolError
from sqlalchemy import Engine
from sqlmodel import Session

from agent_worker.tools.base import ToolContext, tool
from agent_worker.tools.clock import user_zone
from voice_app.history.recall import RecalledMessage, recall_messages

MESSAGE_MAX_CHARS = 200
"""Each recalled message is cut to this: the result goes into the LLM's context."""


def describe_recalled(messages: list[RecalledMessage], time_zone: str | None) -> str:
    """The recalled messages as the LLM (and the page) reads them, grouped by conversation."""
    if not messages:
        return "There are no earlier conversations with this user."
    parts: list[str] = []
    shown: int | None = None
    zone = user_zone(time_zone)
    for message in messages:
        if message.conversation_id != shown:
            shown = message.conversation_id
            parts.append(f"In the conversation of {_day(message.conversation_started_at.astimezone(zone))}:")
        who = "the user said" if message.role == "user" else "you answered"
        text = " ".join(message.text.split())
        if len(text) > MESSAGE_MAX_CHARS:
            text = text[: MESSAGE_MAX_CHARS - 1].rstrip() + "…"
        parts.append(f'{who} "{text}"')
    return " ".join(parts)


def _day(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y} at {moment:%H:%M}"


def recall(*, engine: Engine, user_id: int, query: str, current_job_id: str | None) -> list[RecalledMessage]:
    """Search ``user_id``'s earlier conversations (blocking: run it in a thread)."""
    with Session(engine) as session:
        return recall_messages(session=session, user_id=user_id, query=query, current_job_id=current_job_id)


@tool(running="Looking through your past conversations…")
async def recall_past_conversations(context: RunContext[ToolContext], query: str = "") -> str:
    """Look up what the user and you said in earlier conversations.

    Use it when the user refers to a previous conversation ("last time", "what did I tell you
    about my trip?"), before saying that you do not remember.

    Args:
        context: The conversation (filled in by livekit-agents, not by the model).
        query: Words to look for, such as "trip to Lisbon"; leave it empty for the latest conversation.

    """
    data = context.userdata
    if data.engine is None or data.user_id is None:
        raise ToolError("Earlier conversations are not available in this conversation.")
    found = await asyncio.to_thread(
        recall, engine=data.engine, user_id=data.user_id, query=query, current_job_id=data.job_id
    )
    return describe_recalled(found, data.time_zone)
