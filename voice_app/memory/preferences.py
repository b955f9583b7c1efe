"""A user's choices about how they talk to the agent, stored on their account.

Read by the settings page, the talk page (push-to-talk) and the agent worker at the start of each
conversation (memory, push-to-talk). Imports only SQLModel so the worker can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from voice_app.auth.models import User


@dataclass(frozen=True)
class Preferences:
    """How a user talks to the agent (both off for a new account)."""

    memory: bool = False
    """The agent starts each conversation knowing a summary of the recent ones."""
    push_to_talk: bool = False
    """The agent hears the user only while they hold the talk button."""


def get_preferences(*, session: Session, user_id: int) -> Preferences:
    """``user_id``'s preferences (the defaults for a user that no longer exists)."""
    user = session.get(User, user_id)
    if user is None:
        return Preferences()
    return Preferences(memory=user.memory_enabled, push_to_talk=user.push_to_talk)


def set_preferences(*, session: Session, user_id: int, preferences: Preferences) -> None:
    """Store ``preferences`` for ``user_id`` (nothing happens for a user that no longer exists)."""
    user = session.get(User, user_id)
    if user is None:
        return
    user.memory_enabled = preferences.memory
    user.push_to_talk = preferences.push_to_talk
    session.add(user)
    session.commit()
