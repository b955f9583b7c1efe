"""The agent comes back by itself when its process dies in the middle of a conversation."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.factories import sign_in
from tests.support.backend import Backend
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.processes import free_port
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker, Deployment
from tests.test_agent_worker import GREETING_TIMEOUT, REPLY_TIMEOUT, stored_conversations

pytestmark = pytest.mark.slow

BACK_WITHIN_SECONDS = 10
WORKER_LOST_BACK_WITHIN_SECONDS = 15
"""A whole worker's agents stay listed in their rooms until LiveKit times them out (~20 s); the
client notices the heartbeat stop first (4 s), and the backend checks it for 2 s more."""


@pytest.fixture(scope="module")
def worker(isolated_deployment: Deployment) -> Iterator[AgentWorker]:
    """The only worker of its own LiveKit, so every job (and every job sent again) comes here."""
    started = isolated_deployment.worker("recovery").start()
    yield started
    started.stop()


async def test_a_killed_agent_is_replaced_and_goes_on_with_the_same_conversation(
    isolated_deployment: Deployment, worker: AgentWorker
) -> None:
    livekit = isolated_deployment.livekit
    with httpx.Client(base_url=isolated_deployment.backend.base_url, timeout=30) as api:
        user = sign_in(api, display_name="Rosalind")
        client = await VoiceClient.join(api, user)
        try:
            await client.wait_for("the greeting", lambda: client.agent_transcripts(), GREETING_TIMEOUT)
            sent = await client.send_chat("My favourite colour is green.")
            await client.wait_for("a reply", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT)
            await client.wait_for(
                "the agent listening", lambda: client.agent_states[-1][1] == "listening", 30
            )
            first_agent = client.agent_identity

            os.kill(worker.job_process_in_room(livekit.port).pid, signal.SIGKILL)
            killed = time.monotonic()
            back = await client.wait_for(
                "a new agent speaking in the room",
                lambda: client.agent_identity != first_agent and client.agent_transcripts(after=killed),
                BACK_WITHIN_SECONDS + 20,
            )
            recovered_in = time.monotonic() - killed
            assert "back" in back[0].text.lower()

            sent = await client.send_chat("Thanks. Are you there?")
            await client.wait_for(
                "a reply from the new agent", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT
            )
        finally:
            await client.close()

    def ended() -> bool:
        conversations = stored_conversations(isolated_deployment.backend, user.user_id)
        return bool(conversations) and all(c.ended_at is not None for c, _ in conversations)

    await client.wait_for("the conversation being stored", ended, seconds=30)
    conversations = stored_conversations(isolated_deployment.backend, user.user_id)
    assert len(conversations) == 1, "the new agent started a new history entry"
    said = [(m.role, m.text) for m in conversations[0][1]]
    assert ("user", "My favourite colour is green.") in said
    assert ("user", "Thanks. Are you there?") in said
    assert recovered_in < BACK_WITHIN_SECONDS, f"the agent came back after {recovered_in:.1f} s"


@pytest.fixture(scope="module")
def webhooked_deployment(
    tmp_path_factory: pytest.TempPathFactory, inference_service: InferenceService
) -> Iterator[Deployment]:
    """LiveKit sending its webhook to the backend, as `make dev` and compose set it up."""
    workdir = tmp_path_factory.mktemp("webhooked")
    port = free_port()
    livekit = LiveKitServer(workdir, webhook_url=f"http://127.0.0.1:{port}/api/livekit/webhook").start()
    try:
        backend = Backend(workdir, livekit, port=port).start()
        try:
            yield Deployment(workdir, livekit, backend, inference_service)
        finally:
            backend.stop()
    finally:
        livekit.stop()


async def test_a_whole_worker_lost_while_another_is_up_its_conversation_goes_on_there(
    webhooked_deployment: Deployment,
) -> None:
    deployment = webhooked_deployment
    first = deployment.worker("lost-first").start()
    second: AgentWorker | None = None
    try:
        with httpx.Client(base_url=deployment.backend.base_url, timeout=30) as api:
            user = sign_in(api, display_name="Barbara")
            client = await VoiceClient.join(api, user)
            client.recover_silent_agents(api, user)
            try:
                await client.wait_for("the greeting", lambda: client.agent_transcripts(), GREETING_TIMEOUT)
                sent = await client.send_chat("Remember the word apple.")
                await client.wait_for("a reply", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT)
                second = deployment.worker("lost-second").start()
                lost_agent = client.agent_identity
                first.kill_with_its_jobs()
                killed = time.monotonic()
                back = await client.wait_for(
                    "a new agent speaking",
                    lambda: client.agent_identity != lost_agent and client.agent_transcripts(after=killed),
                    WORKER_LOST_BACK_WITHIN_SECONDS,
                )
                recovered_in = time.monotonic() - killed
                sent = await client.send_chat("Are you still there?")
                await client.wait_for("a reply", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT)
            finally:
                await client.close()
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert "back" in back[0].text.lower()
    assert client.recoveries == ["replaced"], "the client's call did not bring the new agent"
    assert recovered_in < WORKER_LOST_BACK_WITHIN_SECONDS
    [(_conversation, messages)] = stored_conversations(deployment.backend, user.user_id)
    said = [(m.role, m.text) for m in messages]
    assert ("user", "Remember the word apple.") in said
    assert ("user", "Are you still there?") in said


def test_a_webhook_not_signed_by_livekit_is_refused(webhooked_deployment: Deployment) -> None:
    response = httpx.post(
        f"{webhooked_deployment.backend.base_url}/api/livekit/webhook",
        content='{"event": "participant_left"}',
        headers={"authorization": "not-a-token", "content-type": "application/webhook+json"},
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "The webhook is not signed with this server's LiveKit key."}
