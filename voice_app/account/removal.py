"""Deleting an account and everything that belongs to it.

One transaction removes the user's conversations and their messages, their rooms, their login
sessions (so every signed-in browser and API client is signed out) and the account itself.
A table added later that points at ``user.id`` must be added here too:
``tests/test_your_data.py`` checks that no row of any table still names the deleted user.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col

from voice_app.auth.models import LoginSession, User
from voice_app.history.removal import delete_all_conversations
from voice_app.rooms.models import Room


class AccountNotFound(LookupError):
    """The account is already gone."""


def delete_account(*, session: Session, user_id: int) -> None:
    """Delete ``user_id``'s account with all its conversations, rooms and sessions.

    Raises:
        AccountNotFound: there is no such account (deleted already).

    """
    if session.get(User, user_id) is None:
        raise AccountNotFound(user_id)
    delete_all_conversations(session=session, user_id=user_id, commit=False)
    session.exec(delete(Room).where(col(Room.owner_id) == user_id))
    session.exec(delete(LoginSession).where(col(LoginSession.user_id) == user_id))
    session.exec(delete(User).where(col(User.id) == user_id))
    session.commit()
