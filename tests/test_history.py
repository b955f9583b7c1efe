"""Past conversations as the history pages read them: a user sees only their own, newest first,
each with its whole transcript in the order it was said."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from voice_app.auth.models import User
from voice_app.db import make_engine
from voice_app.history import service
from voice_app.history.models import Conversation, ConversationMessage

START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with Session(make_engine(database_url)) as db:
        yield db


def new_user(session: Session, name: str) -> User:
    email = f"{name.lower()}-{secrets.token_hex(4)}@example.com"
    user = User(email=email, email_normalized=email, display_name=name, password_hash="not-a-hash")
    session.add(user)
    session.commit()
    return user


def new_conversation(
    session: Session, user: User, started_at: datetime, lines: list[tuple[str, str, str]]
) -> Conversation:
    """A conversation as the agent worker stores it; ``lines`` are (role, source, text), 5 s apart."""
    conversation = Conversation(
        user_id=user.id,
        room_name=f"talk-{user.id}-{secrets.token_hex(4)}",
        agent_job_id=f"AJ_{secrets.token_hex(6)}",
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=5 * len(lines) + 3),
    )
    session.add(conversation)
    session.commit()
    for index, (role, source, text) in enumerate(lines):
        session.add(
            ConversationMessage(
                conversation_id=conversation.id,
                role=role,
                source=source,
                text=text,
                created_at=started_at + timedelta(seconds=5 * index),
            )
        )
    session.commit()
    return conversation


def test_a_user_sees_their_own_conversations_newest_first_with_counts_and_a_preview(session: Session) -> None:
    ada, eve = new_user(session, "Ada"), new_user(session, "Eve")
    older = new_conversation(
        session, ada, START, [("agent", "spoken", "Hello Ada!"), ("user", "spoken", "What time is it?")]
    )
    newer = new_conversation(
        session,
        ada,
        START + timedelta(days=1),
        [("agent", "spoken", "Hello Ada!"), ("user", "typed", "Tell me   a joke " + "please " * 40)],
    )
    new_conversation(session, eve, START, [("user", "spoken", "Eve's secret")])

    listed = service.list_conversations(session=session, user_id=ada.id)

    assert [c.id for c in listed] == [newer.id, older.id]
    assert [c.message_count for c in listed] == [2, 2]
    assert listed[1].preview == "What time is it?"
    assert listed[0].preview.startswith("Tell me a joke please")
    assert listed[0].preview.endswith("…")
    assert len(listed[0].preview) <= service.PREVIEW_MAX_CHARS
    assert listed[1].started_at == START
    assert listed[1].ended_at == START + timedelta(seconds=13)


def test_a_conversation_reads_back_in_the_order_it_was_said(session: Session) -> None:
    ada = new_user(session, "Ada")
    lines = [
        ("agent", "spoken", "Hello Ada! What can I do for you?"),
        ("user", "spoken", "What is the weather like in Paris today?"),
        ("agent", "spoken", "Sunny."),
        ("user", "typed", "Thanks!"),
    ]
    conversation = new_conversation(session, ada, START, lines)

    found = service.get_conversation(session=session, user_id=ada.id, conversation_id=conversation.id)

    assert [(m.role, m.source, m.text) for m in found.messages] == lines
    assert found.messages[0].created_at == START
    assert found.conversation.message_count == 4
    assert found.conversation.preview == "What is the weather like in Paris today?"


def test_another_users_conversation_reads_exactly_like_a_missing_one(session: Session) -> None:
    ada, eve = new_user(session, "Ada"), new_user(session, "Eve")
    eves = new_conversation(session, eve, START, [("user", "spoken", "Eve's secret")])

    with pytest.raises(service.ConversationNotFound):
        service.get_conversation(session=session, user_id=ada.id, conversation_id=eves.id)
    with pytest.raises(service.ConversationNotFound):
        service.get_conversation(session=session, user_id=ada.id, conversation_id=eves.id + 10_000)
    assert service.list_conversations(session=session, user_id=ada.id) == []
