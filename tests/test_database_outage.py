"""PostgreSQL stops for ten seconds in the middle of a conversation: nothing the user said is lost."""

from __future__ import annotations

import asyncio
import secrets
import time
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

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 10


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
    backend = Backend(workdir, livekit, database_url=postgres.url).start()
    deployment = Deployment(workdir, livekit, backend, inference_service)
    worker = deployment.worker("on-postgres").start()
    yield deployment, worker
    worker.stop()
    backend.stop()
    livekit.stop()


async def ask(client: VoiceClient, text: str) -> None:
    """Type ``text`` and wait for the agent's answer and for it to listen again."""
    sent = await client.send_chat(text)
    await client.wait_for(f"a reply to {text!r}", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT)
    await client.wait_for("the agent listening", lambda: client.agent_states[-1][1] == "listening", 30)


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
            await ask(client, "Before the outage.")

            postgres.pause()
            stopped = time.monotonic()
            down = await asyncio.to_thread(health, backend)
            await ask(client, "During the outage, first.")
            await ask(client, "During the outage, second.")
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))
            postgres.resume()

            await ask(client, "After the outage.")
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
