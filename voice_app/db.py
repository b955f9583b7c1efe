"""The app's database engine and session dependency.

The engine is created lazily from ``DATABASE_URL`` so importing models never opens a
connection. SQLite gets WAL mode and a busy timeout because the agent worker writes
conversation messages to the same file while the backend serves requests.

API requests use the database from the event loop, where waiting for a pooled connection would
stall every request, so pools never make a caller wait: they keep ``POOL_KEPT_CONNECTIONS`` open
and open more during a burst (``max_overflow=-1``). Why: docs/decisions/0002-database-on-the-event-loop.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, make_url
from sqlmodel import Session, create_engine

POOL_KEPT_CONNECTIONS = 10
"""Connections a pool keeps open between requests (more are opened, never waited for)."""
SQLITE_BUSY_TIMEOUT_SECONDS = 15
"""How long a write waits for another process (the agent worker) to finish its own write.

The wait blocks the backend's event loop; the worker's writes are short transactions, and the
backend's hot path writes at most once a minute per session, so it is rare and brief."""


def ensure_sqlite_folder(database_url: str) -> None:
    """Create the folder of a SQLite file (the default ``.data/``); SQLite creates only the file."""
    url = make_url(database_url)
    database = url.database or ""
    if (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
    ):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(database_url: str) -> Engine:
    """Create an engine for ``database_url`` with settings that suit several processes."""
    if database_url.startswith("sqlite"):
        ensure_sqlite_folder(database_url)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            pool_size=POOL_KEPT_CONNECTIONS,
            max_overflow=-1,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
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

    ``async`` so that opening and closing it cost no trip to a worker thread. Declare it with
    ``scope="function"`` (as ``SessionDep`` does) so the connection goes back to the pool when
    the handler returns, not after a slow client has read the response.
    """
    with Session(get_engine()) as session:
        yield session
