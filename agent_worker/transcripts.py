"""Keep every conversation: each final user and agent message, with user, room and time.

The worker writes straight into the app's database through the shared SQLModel tables in
``voice_app/history/models.py``: the app's migrations own the schema, the history pages read
the same rows, and nothing is lost when the worker or the backend restarts. Writes run on one
background thread per conversation (in order, off the event loop, so audio never waits on the
database). While the database is unreachable (down, restarting, failing over) a write is retried
until it succeeds, and the messages after it wait behind it in memory, in order; each message
carries a key unique to it, so a write retried after its commit was lost is not stored twice.
Other failures are logged and the conversation goes on.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, select

from voice_app.db import make_engine
from voice_app.history.models import Conversation, ConversationMessage, MessageRole, MessageSource

logger = logging.getLogger(__name__)

UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
"""What the database driver raises while the server is down or restarting, or what the pool raises
when its connections are all stuck waiting for it: worth retrying."""
RETRY_DELAYS_SECONDS = (0.2, 0.5, 1.0, 2.0)
"""Waits between attempts at one write; the last repeats until the database is back."""
FLUSH_TIMEOUT_SECONDS = 40.0
"""At the end of a conversation, how long unwritten messages are still retried before the job
process exits (its shutdown timeout is set above this in ``agent_worker/__main__.py``)."""


@lru_cache
def engine_for(database_url: str) -> Engine:
    """One engine (connection pool) per job process and database."""
    return make_engine(database_url, application_name="voice-app-agent")


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
        self._sequence = itertools.count()
        self._give_up_at: float | None = None
        """Set when the conversation ends: retrying stops there (None: retry for ever)."""

    @property
    def user_id(self) -> int:
        """Whose conversation this is."""
        return self._user_id

    def open(self) -> None:
        """Create the conversation row (queued before any message, so it exists first)."""
        if self._conversation_id is None:
            self._submit(self._insert_conversation)

    def add(self, *, role: MessageRole, source: MessageSource, text: str, at: float) -> None:
        """Queue one final message; ``at`` is when it was said or typed (Unix time).

        Stored without the whitespace around it (an LLM often ends on a newline), as the user's
        transcript shows it.
        """
        text = text.strip()
        if not text:
            return
        created_at = datetime.fromtimestamp(at, tz=UTC)
        key = f"{self._job_id}:{next(self._sequence)}"
        self._submit(lambda: self._insert_message(key, role, source, text, created_at))

    async def close(self) -> None:
        """Mark the conversation ended and wait until every queued write is done (or given up)."""
        self._give_up_at = time.monotonic() + FLUSH_TIMEOUT_SECONDS
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
                self._until_reachable(write)
            except Exception as error:
                logger.error(
                    "could not store conversation data",
                    extra={"job_id": self._job_id, "error_type": type(error).__name__},
                    exc_info=True,
                )

        return run

    def _until_reachable(self, write: Callable[[], None]) -> None:
        """Run ``write``, again and again while the database is unreachable."""
        for attempt in itertools.count():
            try:
                write()
                if attempt:
                    logger.info(
                        "database reachable again; stored what was kept", extra={"job_id": self._job_id}
                    )
                return
            except UNREACHABLE:
                if self._give_up_at is not None and time.monotonic() >= self._give_up_at:
                    raise
                if attempt == 0:
                    logger.warning(
                        "database unreachable; keeping the conversation's messages until it is back",
                        extra={"job_id": self._job_id},
                    )
                delay = RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS) - 1)]
                time.sleep(delay)

    def _insert_conversation(self) -> None:
        with Session(self._engine) as session:
            session.add(
                Conversation(user_id=self._user_id, room_name=self._room_name, agent_job_id=self._job_id)
            )
            try:
                session.commit()
            except IntegrityError:  # an earlier attempt committed, but its answer was lost
                session.rollback()
            self._conversation_id = session.exec(
                select(Conversation.id).where(Conversation.agent_job_id == self._job_id)
            ).one()

    def _insert_message(self, key: str, role: str, source: str, text: str, created_at: datetime) -> None:
        if self._conversation_id is None:
            return  # the conversation row could not be written; that failure was logged
        with Session(self._engine) as session:
            session.add(
                ConversationMessage(
                    conversation_id=self._conversation_id,
                    message_key=key,
                    role=role,
                    source=source,
                    text=text,
                    created_at=created_at,
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                if session.exec(
                    select(ConversationMessage.id).where(ConversationMessage.message_key == key)
                ).first():
                    return  # an earlier attempt committed, but its answer was lost
                raise

    def _mark_ended(self) -> None:
        if self._conversation_id is None:
            return
        with Session(self._engine) as session:
            conversation = session.get(Conversation, self._conversation_id)
            if conversation is not None:
                conversation.ended_at = datetime.now(UTC)
                session.commit()
