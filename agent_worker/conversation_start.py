"""What a user chose for their conversations, read from the database as one starts.

Memory (opt-in): the agent's instructions end with a short summary of the user's recent
conversations. Push-to-talk: the agent hears the user only between the page's start and end of
a press (see ``agent_worker/push_to_talk.py``). A database that cannot be read means the
defaults (no memory, open microphone): the conversation still starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from voice_app.memory.preferences import get_preferences
from voice_app.memory.summary import remembered_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConversationStart:
    """The user's choices for this conversation, and what the agent remembers of earlier ones."""

    push_to_talk: bool = False
    remembered: str = ""


def load_conversation_start(engine: Engine, *, user_id: int, job_id: str) -> ConversationStart:
    """Read ``user_id``'s preferences and, with memory on, the summary (blocking: run in a thread)."""
    try:
        with Session(engine) as session:
            preferences = get_preferences(session=session, user_id=user_id)
            remembered = (
                remembered_for(session=session, user_id=user_id, current_job_id=job_id, subject="the user")
                if preferences.memory
                else ""
            )
    except Exception as error:
        logger.error(
            "could not read the user's preferences; starting with the defaults",
            extra={"job_id": job_id, "error_type": type(error).__name__},
        )
        return ConversationStart()
    return ConversationStart(push_to_talk=preferences.push_to_talk, remembered=remembered)
