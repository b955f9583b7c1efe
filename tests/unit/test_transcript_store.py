"""What the worker stores of a conversation is what its user saw: the words of each message in
order, not the whitespace an LLM ends its answer with, and no empty messages.

A real SQLite file with the app's tables; the database going away mid-conversation is in
``tests/test_database_outage.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlmodel import Session, SQLModel, select

from agent_worker.transcripts import TranscriptStore
from voice_app.auth.models import User
from voice_app.db import make_engine
from voice_app.history.models import ConversationMessage


async def test_an_answer_ending_on_a_newline_is_stored_as_the_user_saw_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        ada = User(
            email="ada@example.com", email_normalized="ada@example.com", display_name="Ada", password_hash="x"
        )
        session.add(ada)
        session.commit()
        assert ada.id is not None
        user_id = ada.id

    store = TranscriptStore(engine, user_id=user_id, room_name="room-1", job_id="job-1")
    store.open()
    now = time.time()
    store.add(role="user", source="typed", text="  Tell me about the Moon?", at=now)
    store.add(role="agent", source="spoken", text="It is mostly rock.\n\nAnd dust.\n", at=now + 1)
    store.add(role="agent", source="spoken", text=" \n", at=now + 2)
    await store.close()

    with Session(engine) as session:
        stored = session.exec(select(ConversationMessage).order_by(ConversationMessage.id)).all()
    assert [(m.role, m.text) for m in stored] == [
        ("user", "Tell me about the Moon?"),
        ("agent", "It is mostly rock.\n\nAnd dust."),
    ]
