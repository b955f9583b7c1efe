"""The database misbehaves: PostgreSQL stops for ten seconds in the middle of a conversation
(nothing the user said is lost), or a query waits on a lock (the backend keeps answering, holds no
more than its pool of connections, and says "busy" instead of hanging)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.factories import sign_in
from tests.support.backend import Backend, migrate_database
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.production import PostgresServer
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker, Deployment
from tests.test_agent_worker import GREETING_TIMEOUT, REPLY_TIMEOUT, stored_conversations
from voice_app.api_errors import DATABASE_BUSY
from voice_app.db import BACKEND_APPLICATION

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 10
POOL_SIZE = 3
"""The backend's ``DB_POOL_SIZE`` here: small, so a test can use every connection."""
WAIT_SECONDS = 2
"""The backend's ``DB_WAIT_SECONDS`` here: how long a request waits for a connection."""


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """The app's database on a PostgreSQL server of its own, which the test stops and starts."""
    server = PostgresServer(
        tmp_path_factory.mktemp("postgres-logs"),
        user="voice_app",
        password=secrets.token_hex(12),
        database="voice_app",
    ).start()
    migrate_database(server.url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def on_postgres(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, inference_service: InferenceService
) -> Iterator[tuple[Deployment, AgentWorker]]:
    """LiveKit, a backend and a worker, all on that PostgreSQL."""
    workdir = tmp_path_factory.mktemp("on-postgres")
    livekit = LiveKitServer(workdir).start()
    backend = Backend(
        workdir,
        livekit,
        database_url=postgres.url,
        extra_env={"DB_POOL_SIZE": str(POOL_SIZE), "DB_WAIT_SECONDS": str(WAIT_SECONDS)},
    ).start()
    deployment = Deployment(workdir, livekit, backend, inference_service)
    worker = deployment.worker("on-postgres").start()
    yield deployment, worker
    worker.stop()
    backend.stop()
    livekit.stop()


def health(backend: Backend) -> httpx.Response:
    return httpx.get(f"{backend.base_url}/api/health", timeout=15)


async def test_messages_said_while_the_database_is_down_are_all_stored_once_it_is_back(
    postgres: PostgresServer, on_postgres: tuple[Deployment, AgentWorker]
) -> None:
    deployment, _worker = on_postgres
    backend = deployment.backend
    with httpx.Client(base_url=backend.base_url, timeout=30) as api:
        user = sign_in(api, display_name="Edsger")
        client = await VoiceClient.join(api, user)
        try:
            await client.wait_for("the greeting", lambda: client.agent_transcripts(), GREETING_TIMEOUT)
            await client.ask("Before the outage.", REPLY_TIMEOUT)

            postgres.pause()
            stopped = time.monotonic()
            down = await asyncio.to_thread(health, backend)
            await client.ask("During the outage, first.", REPLY_TIMEOUT)
            await client.ask("During the outage, second.", REPLY_TIMEOUT)
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
            postgres.resume()

            await client.ask("After the outage.", REPLY_TIMEOUT)
            up = await asyncio.to_thread(health, backend)
        finally:
            await client.close()

    def ended() -> bool:
        conversations = stored_conversations(backend, user.user_id)
        return bool(conversations) and conversations[-1][0].ended_at is not None

    await client.wait_for("the conversation being stored", ended, seconds=60)
    assert down.status_code == 503, down.text
    assert down.json()["database"] == "unreachable"
    assert up.status_code == 200, up.text

    [(_conversation, messages)] = stored_conversations(backend, user.user_id)
    stored = [(m.role, m.text) for m in messages]
    typed = [
        "Before the outage.",
        "During the outage, first.",
        "During the outage, second.",
        "After the outage.",
    ]
    said = [("agent", t.text) for t in client.agent_transcripts()] + [("user", text) for text in typed]
    assert len(stored) == len(said), f"the client saw {len(said)} messages, the database holds {len(stored)}"
    assert sorted(stored) == sorted(said)
    assert [text for role, text in stored if role == "user"] == typed, "messages stored out of order"


def backend_connections(postgres: PostgresServer) -> int:
    """Connections the backend holds open on PostgreSQL right now."""
    with postgres.connect() as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (BACKEND_APPLICATION,)
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_query_stuck_on_a_lock_stalls_neither_the_backend_nor_more_than_its_pool(
    postgres: PostgresServer, on_postgres: tuple[Deployment, AgentWorker]
) -> None:
    backend = on_postgres[0].backend
    with httpx.Client(base_url=backend.base_url, timeout=30) as api:
        user = sign_in(api, display_name="Barbara")
    async with httpx.AsyncClient(base_url=backend.base_url, headers=user.headers, timeout=60) as client:
        with postgres.connect() as locker, locker.transaction():
            # Every signed-in request reads login_session: from now on they wait for this lock.
            locker.execute("LOCK TABLE login_session IN ACCESS EXCLUSIVE MODE")
            first = asyncio.ensure_future(client.get("/api/me"))
            await asyncio.sleep(1)

            health_meanwhile = await client.get("/api/health")
            assert not first.done(), "the request on the locked table should still be waiting"
            assert health_meanwhile.json()["database"] == "ok", health_meanwhile.text

            more = [asyncio.ensure_future(client.get("/api/me")) for _ in range(POOL_SIZE + 1)]
            await asyncio.sleep(WAIT_SECONDS + 1.5)
            held_while_stuck = await asyncio.to_thread(backend_connections, postgres)
            refused = [task.result() for task in more if task.done()]
        answers = [first.result() if first.done() else await first] + [await task for task in more]

    assert held_while_stuck <= POOL_SIZE, f"the backend held {held_while_stuck} connections"
    assert Counter(a.status_code for a in answers) == Counter({200: POOL_SIZE, 503: 2}), [
        a.text for a in answers
    ]
    assert [a.status_code for a in refused] == [503, 503], "the busy ones did not wait for the lock"
    assert refused[0].json() == {"detail": DATABASE_BUSY}
    assert refused[0].headers["retry-after"] == "5"
    with httpx.Client(base_url=backend.base_url, headers=user.headers, timeout=30) as api:
        assert api.get("/api/me").status_code == 200, "every connection came back to the pool"
