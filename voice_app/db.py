"""The app's database: the engine, and :class:`Database`, how async code uses it.

The engine is created lazily from ``DATABASE_URL`` so importing models never opens a
connection. SQLite gets WAL mode and a busy timeout because the agent worker writes
conversation messages to the same file while the backend serves requests.

The services (`voice_app.auth.service`, `voice_app.history.service`, …) are plain synchronous
functions of a ``Session``, shared with the agent worker. The backend's routes and Reflex event
handlers run them through :meth:`Database.run`, on threads of its own, so a slow query never
stalls the event loop. Why not an asyncio engine: docs/decisions/0003-database-off-the-event-loop.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, event, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, create_engine

logger = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_SECONDS = 15
"""How long a write waits for another process (the agent worker) to finish its own write."""
CHECKOUT_TIMEOUT_SECONDS = 5
"""How long a thread waits for a pooled connection; :class:`Database` makes that wait rare."""
BACKEND_APPLICATION = "voice-app-backend"
"""How the backend's connections are named to PostgreSQL (``pg_stat_activity.application_name``)."""
CONNECT_TIMEOUT_SECONDS = 5
"""How long opening a PostgreSQL connection may take before the database counts as unreachable."""


class DatabaseUnavailable(Exception):
    """The database did not answer, or every connection stayed busy for ``DB_WAIT_SECONDS``.

    The API answers 503 and the pages say so in words; the caller may try again.
    """

    def __init__(self, reason: str, *, busy: bool = False) -> None:
        super().__init__(reason)
        self.busy = busy
        """True when the database answers but every connection of this process was in use."""


class Database:
    """Runs units of database work from async code without blocking its event loop.

    A unit of work is a function of a fresh ``Session`` (passed as ``session=``). It runs on one of
    ``connections`` threads of its own, as many as the engine's pool holds, so a thread never waits
    for a connection. Callers beyond that wait for a turn without blocking the loop, at most
    ``wait_seconds``, then get :class:`DatabaseUnavailable`; so does a database that cannot be
    reached. A turn is given back when its unit has finished, even if its caller was cancelled.
    """

    def __init__(self, engine: Engine, *, connections: int, wait_seconds: float) -> None:
        self.engine = engine
        self.connections = connections
        self._wait_seconds = wait_seconds
        self._threads = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="database")
        self._turns: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()

    def _turns_of(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; the backend has one, tests may start several.
        if loop not in self._turns:
            self._turns[loop] = asyncio.Semaphore(self.connections)
        return self._turns[loop]

    def _unit(self, work: Callable[..., T]) -> T:
        # expire_on_commit=False: what the work returns stays readable after its session closed.
        with Session(self.engine, expire_on_commit=False) as session:
            return work(session=session)

    async def run(self, work: Callable[..., T]) -> T:
        """``work(session=...)`` on a database thread, once a connection is free; its result.

        ``work`` is a service function with its other arguments bound (``functools.partial``)
        or a lambda of ``session``.
        """
        loop = asyncio.get_running_loop()
        turns = self._turns_of(loop)
        try:
            if turns.locked():  # wait, bounded; a free turn is taken without a timer
                async with asyncio.timeout(self._wait_seconds):
                    await turns.acquire()
            else:
                await turns.acquire()
        except TimeoutError:
            logger.warning("Every database connection stayed busy for %.0f s", self._wait_seconds)
            raise DatabaseUnavailable("every database connection is busy", busy=True) from None
        unit = loop.run_in_executor(self._threads, self._unit, work)
        unit.add_done_callback(lambda _unit: turns.release())
        try:
            return await unit
        except PoolTimeout as error:
            raise DatabaseUnavailable("no pooled connection came free", busy=True) from error
        except DBAPIError as error:
            if not _is_outage(error):
                raise  # a query the database refused: a bug, logged as one
            logger.warning("The database did not answer: %s", error.orig)
            raise DatabaseUnavailable("the database did not answer") from error


_SQLITE_OUTAGES = ("database is locked", "unable to open database", "disk i/o error")
"""SQLite raises ``OperationalError`` for a missing table too; these messages are the outages."""


def _is_outage(error: DBAPIError) -> bool:
    """Whether ``error`` says the database could not serve (not that the query was wrong)."""
    if error.connection_invalidated or error.statement is None:
        return True  # cut off mid-query, or no connection could be opened
    if not isinstance(error, OperationalError):
        return False
    if type(error.orig).__module__.startswith("sqlite3"):
        return any(message in str(error.orig).lower() for message in _SQLITE_OUTAGES)
    return True  # PostgreSQL: shut down, restarting, a query cancelled by a timeout


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


def make_engine(database_url: str, *, pool_size: int = 5, application_name: str = "voice-app") -> Engine:
    """An engine for ``database_url`` whose pool holds at most ``pool_size`` connections.

    The pool never grows past that, so ``pool_size`` times the processes using the database
    bounds the connections PostgreSQL must accept. PostgreSQL shows ``application_name`` in
    ``pg_stat_activity``, so an operator sees which program holds which connections.
    """
    pool = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": CHECKOUT_TIMEOUT_SECONDS}
    if database_url.startswith("sqlite"):
        ensure_sqlite_folder(database_url)
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            **pool,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
            cursor = dbapi_connection.cursor()
            # WAL: readers never wait for the worker's writes, and it for theirs.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # pre_ping: a connection cut by a database restart is replaced instead of failing a request.
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": application_name}
    return create_engine(database_url, pool_pre_ping=True, connect_args=connect_args, **pool)


@lru_cache
def get_database() -> Database:
    """The backend's database, built from its settings on first use."""
    from voice_app.settings import get_settings

    settings = get_settings()
    engine = make_engine(
        settings.DATABASE_URL, pool_size=settings.DB_POOL_SIZE, application_name=BACKEND_APPLICATION
    )
    return Database(engine, connections=settings.DB_POOL_SIZE, wait_seconds=settings.DB_WAIT_SECONDS)
