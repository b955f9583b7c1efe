"""The app's database engine and session dependency.

The engine is created lazily from ``DATABASE_URL`` so importing models never opens a
connection. SQLite gets WAL mode and a busy timeout because the agent worker writes
conversation messages to the same file while the backend serves requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine


def make_engine(database_url: str) -> Engine:
    """Create an engine for ``database_url`` with settings that suit several processes."""
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache
def get_engine() -> Engine:
    """The backend's engine, built from its settings on first use."""
    from voice_app.settings import get_settings

    return make_engine(get_settings().DATABASE_URL)


def get_db_session() -> Iterator[Session]:
    """FastAPI dependency: one session per request, closed afterwards."""
    with Session(get_engine()) as session:
        yield session
