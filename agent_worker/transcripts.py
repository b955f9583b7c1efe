"""Keep every conversation: each final user and agent message, with user, room and time.

The worker writes straight into the app's database through the shared SQLModel tables in
``voice_app/history/models.py``: the app's migrations own the schema, the history pages read
the same rows, and nothing is lost when the worker or the backend restarts. Writes run on one
background thread per conversation (in order, off the event loop, so audio never waits on the
database); a failed write is logged and the conversation goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import Engine
from sqlmodel import Session

from voice_app.db import make_engine
from voice_app.history.models import Conversation, ConversationMessage, MessageRole, MessageSource

logger = logging.getLogger(__name__)


@lru_cache
def engine_for(database_url: str) -> Engine:
    """One engine (connection pool) per job process and database."""
    return make_engine(database_url)


class TranscriptStore:
    """The stored record of one conversation: a ``Conversation`` row and its messages."""

    def __init__(
        self, engine: Engine, *, user_id: int, room_name: str, job_id: str, conversation_id: int | None = None
    ) -> None:
        self._engine = engine
        self._user_id = user_id
        self._room_name = room_name
        self._job_id = job_id
        self._conversation_id = conversation_id
        """Given when the conversation goes on from a lost agent's (same history entry)."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcripts")
        self._pending: set[asyncio.Future[None]] = set()

    def open(self) -> None:
        """Create the conversation row (queued before any message, so it exists first)."""
        if self._conversation_id is None:
            self._submit(self._insert_conversation)

    def add(self, *, role: MessageRole, source: MessageSource, text: str, at: float) -> None:
        """Queue one final message; ``at`` is when it was said or typed (Unix time)."""
        if not text.strip():
            return
        created_at = datetime.fromtimestamp(at, tz=UTC)
        self._submit(lambda: self._insert_message(role, source, text, created_at))

    async def close(self) -> None:
        """Mark the conversation ended and wait until every queued write is done."""
        self._submit(self._mark_ended)
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        self._executor.shutdown(wait=False)

    def _submit(self, write: Callable[[], None]) -> None:
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._logged(write))
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def _logged(self, write: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                write()
            except Exception as error:
                logger.error(
                    "could not store conversation data",
                    extra={"job_id": self._job_id, "error_type": type(error).__name__},
                    exc_info=True,
                )

        return run

    def _insert_conversation(self) -> None:
        with Session(self._engine) as session:
            conversation = Conversation(
                user_id=self._user_id, room_name=self._room_name, agent_job_id=self._job_id
            )
            session.add(conversation)
            session.commit()
            self._conversation_id = conversation.id

    def _insert_message(self, role: str, source: str, text: str, created_at: datetime) -> None:
        if self._conversation_id is None:
            return  # the conversation row could not be written; that failure was logged
        with Session(self._engine) as session:
            session.add(
                ConversationMessage(
                    conversation_id=self._conversation_id,
                    role=role,
                    source=source,
                    text=text,
                    created_at=created_at,
                )
            )
            session.commit()

    def _mark_ended(self) -> None:
        if self._conversation_id is None:
            return
        with Session(self._engine) as session:
            conversation = session.get(Conversation, self._conversation_id)
            if conversation is not None:
                conversation.ended_at = datetime.now(UTC)
                session.commit()
