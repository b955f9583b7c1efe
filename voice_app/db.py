"""The app's database engine and session dependency.

The engine is created lazily from ``DATABASE_URL`` so importing models never opens a
connection. SQLite gets WAL mode and a busy timeout because the agent worker writes
conversation messages to the same file while the backend serves requests.

Connection pools never make a caller wait. API requests use the database from the event loop
(the session dependency and the signed-in-user lookup are ``async``), and the connection a
waiting checkout needs can only come back when another request on that same loop finishes:
a pool that blocks on exhaustion stalls the whole process until its timeout. So each pool
keeps ``POOL_KEPT_CONNECTIONS`` open between requests and opens more while a burst needs them
(``max_overflow=-1``), closing the extra ones as they come back. Requests keep a connection
only while their handler runs (see :func:`get_db_session`), so a burst needs few.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

POOL_KEPT_CONNECTIONS = 10
"""Connections a pool keeps open between requests (more are opened, never waited for)."""
SQLITE_BUSY_TIMEOUT_SECONDS = 15
"""How long a write waits for another process (the agent worker) to finish its own write."""


def make_engine(database_url: str) -> Engine:
    """Create an engine for ``database_url`` with settings that suit several processes."""
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            pool_size=POOL_KEPT_CONNECTIONS,
            max_overflow=-1,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL: readers never wait for the worker's writes, and it for theirs.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # PostgreSQL: each backend worker opens at most one connection per request that is using the
    # database at that moment; size `max_connections` for workers x that peak (or use PgBouncer).
    return create_engine(database_url, pool_pre_ping=True, pool_size=POOL_KEPT_CONNECTIONS, max_overflow=-1)


@lru_cache
def get_engine() -> Engine:
    """The backend's engine, built from its settings on first use."""
    from voice_app.settings import get_settings

    return make_engine(get_settings().DATABASE_URL)


async def get_db_session() -> AsyncIterator[Session]:
    """FastAPI dependency: one session per request, closed on the event loop afterwards.

    ``async`` so that closing it never waits for a worker thread: with a sync generator FastAPI
    runs the close in its thread pool, which requests waiting for a connection may all occupy.
    Declare it with ``scope="function"`` (as ``SessionDep`` does) so the connection goes back
    to the pool when the handler returns, not after a slow client has read the response.
    """
    with Session(get_engine()) as session:
        yield session
