"""The backend's database work runs off its event loop, a bounded number at a time, and a
database that cannot answer becomes `DatabaseUnavailable` (503 in the API), not a hang or a 500.

Real SQLite files; the PostgreSQL side (a locked table, the pool's size seen by the server) is
in ``tests/test_database_outage.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from voice_app.db import Database, DatabaseUnavailable, make_engine


def database(tmp_path: Path, *, connections: int = 2, wait_seconds: float = 5.0) -> Database:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}", pool_size=connections)
    return Database(engine, connections=connections, wait_seconds=wait_seconds)


async def test_work_runs_on_another_thread_while_the_event_loop_goes_on(tmp_path: Path) -> None:
    db = database(tmp_path)
    release = threading.Event()
    loop_thread = threading.get_ident()

    def slow_query(session: Session) -> int:
        assert threading.get_ident() != loop_thread
        release.wait(5)
        return session.connection().execute(text("SELECT 41 + 1")).scalar_one()

    answer = asyncio.ensure_future(db.run(slow_query))
    ticks = 0
    while ticks < 5:  # the loop keeps running while the query is blocked
        await asyncio.sleep(0.01)
        ticks += 1
    assert not answer.done()
    release.set()
    assert await answer == 42


async def test_no_more_than_the_pool_at_once_and_a_caller_waits_its_turn(tmp_path: Path) -> None:
    db = database(tmp_path, connections=2)
    running, most = 0, 0
    lock = threading.Lock()

    def counted(session: Session) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        session.connection().execute(text("SELECT 1"))
        with lock:
            running -= 1

    await asyncio.gather(*(db.run(counted) for _ in range(8)))

    assert most == 2


async def test_a_caller_that_cannot_get_a_connection_in_time_is_told_the_database_is_busy(
    tmp_path: Path,
) -> None:
    db = database(tmp_path, connections=1, wait_seconds=0.2)
    release = threading.Event()
    holder = asyncio.ensure_future(db.run(lambda session: release.wait(5)))
    await asyncio.sleep(0.05)

    with pytest.raises(DatabaseUnavailable) as refused:
        await db.run(lambda session: session.connection().execute(text("SELECT 1")))

    assert refused.value.busy
    release.set()
    assert await holder is True
    # The turn it held is free again: the next caller is served.
    assert await db.run(lambda session: session.connection().execute(text("SELECT 7")).scalar_one()) == 7


async def test_a_database_that_cannot_be_opened_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    unopenable = tmp_path / "a-folder"
    unopenable.mkdir()
    engine = make_engine(f"sqlite:///{unopenable}")  # a folder is no database file
    db = Database(engine, connections=1, wait_seconds=1)

    with pytest.raises(DatabaseUnavailable) as refused:
        await db.run(lambda session: session.connection().execute(text("SELECT 1")))

    assert not refused.value.busy


async def test_a_wrong_query_is_still_a_bug_not_an_outage(tmp_path: Path) -> None:
    db = database(tmp_path)

    with pytest.raises(OperationalError, match="no such table"):
        await db.run(lambda session: session.connection().execute(text("SELECT * FROM no_such_table")))
