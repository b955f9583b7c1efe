"""CPU cost of `POST /api/generate-token` in process: the FastAPI app called as ASGI, no server.

A quick check of the token route's own cost (bearer-session lookup, ownership read, signing,
JSON) when the machine is too busy for `token_throughput.py`'s real server and `wrk`: one
core's requests/s is 1 / CPU per request, an upper bound for one backend worker (Granian and
Reflex's outer middleware add their share on top).

    .venv/bin/python bench/token_in_process.py [--requests 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.backend import new_database

CONCURRENCY = 64
ROOM = "bench-room"
BODY = b'{"room": "bench-room"}'


def _prepare() -> str:
    """A migrated database with one user owning ``ROOM``; returns the user's bearer token."""
    os.environ["DATABASE_URL"] = new_database(Path(tempfile.mkdtemp()))
    os.environ.setdefault("LIVEKIT_API_SECRET", "s" * 40)  # a production-length secret
    os.environ["TOKEN_REQUESTS_PER_MINUTE"] = "100000000"  # the per-user limit is not what is measured
    from sqlmodel import Session

    from voice_app.auth import service
    from voice_app.auth.models import User
    from voice_app.db import get_database
    from voice_app.rooms.models import Room
    from voice_app.settings import get_settings

    with Session(get_database().engine) as session:
        user = User(
            email="b@example.com", email_normalized="b@example.com", display_name="Bench", password_hash="x"
        )
        session.add(user)
        session.commit()
        session.refresh(user)
        assert user.id is not None
        session.add(Room(name=ROOM, owner_id=user.id))
        session.commit()
        return service.create_login_session(session=session, user=user, settings=get_settings()).token


async def _request(app, scope: dict) -> None:
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if delivered:
            await asyncio.sleep(3600)  # the client never disconnects
        delivered = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    statuses: list[int] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(dict(scope), receive, send)
    assert statuses == [200], statuses


async def _main(requests: int, rounds: int) -> None:
    token = _prepare()
    from voice_app.api import fastapi_app

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/generate-token",
        "raw_path": b"/api/generate-token",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
            (b"authorization", f"Bearer {token}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    for _ in range(200):
        await _request(fastapi_app, scope)
    print("| round | CPU ms/request | requests/s per core |\n|---|---|---|")
    for round_number in range(1, rounds + 1):
        cpu_before = time.process_time()
        for start in range(0, requests, CONCURRENCY):
            batch = min(CONCURRENCY, requests - start)
            await asyncio.gather(*(_request(fastapi_app, scope) for _ in range(batch)))
        cpu = time.process_time() - cpu_before
        print(f"| {round_number} | {cpu / requests * 1000:.2f} | {requests / cpu:,.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(_main(arguments.requests, arguments.rounds))
