"""Logins keep being answered while the throttle's Redis is slow: its calls never run on the event loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.production import RedisServer
from voice_app.auth.throttle import make_login_throttle
from voice_app.settings import Settings

pytestmark = pytest.mark.slow

REDIS_PAUSE_MS = 1000


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), ["redis-server", "--save", ""]).start()
    yield server
    server.stop()


async def longest_stall_while(work: asyncio.Future[object]) -> float:
    """The longest the event loop went without running a 10 ms ticker while ``work`` ran."""
    longest, last = 0.0, time.monotonic()
    while not work.done():
        await asyncio.sleep(0.01)
        now = time.monotonic()
        longest, last = max(longest, now - last), now
    await work
    return longest


async def test_a_slow_redis_holds_up_only_the_login_that_waits_for_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = Settings(REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0", _env_file=None)
    throttle = make_login_throttle(settings)
    assert await throttle.start_attempt_off_loop(account="ada@example.com", address="10.0.0.1") == 0

    pauser = redis.Redis(port=redis_server.port)
    pause = threading.Thread(target=pauser.execute_command, args=("CLIENT", "PAUSE", REDIS_PAUSE_MS, "ALL"))
    pause.start()
    pause.join()
    started = time.monotonic()
    attempt = asyncio.ensure_future(
        throttle.start_attempt_off_loop(account="ada@example.com", address="10.0.0.1")
    )
    stall = await longest_stall_while(attempt)
    waited = time.monotonic() - started

    assert waited > 0.5, "Redis was not paused: the test proves nothing"
    assert stall < 0.25, f"the event loop stood still for {stall:.2f} s while Redis was slow"
    assert attempt.result() == 0  # the second attempt of two is still free
