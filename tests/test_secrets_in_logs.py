"""Logs carry no secrets: a whole visit (sign-up, sign-in, a spoken and a typed turn with the
agent, sign-out), with the backend and the agent worker logging at DEBUG, leaves none of the
user's password, their session token, their LiveKit token or the LiveKit API secret in any log."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import sign_in
from tests.support.backend import Backend
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.speech import spoken_frame
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker

pytestmark = pytest.mark.slow

PASSWORD = "a very particular passphrase 7"
TIMEOUT = 90


@pytest.fixture(scope="module")
def debug_deployment(
    tmp_path_factory: pytest.TempPathFactory, inference_service: InferenceService
) -> Iterator[tuple[LiveKitServer, Backend, AgentWorker]]:
    """LiveKit, a backend and a worker of their own, both logging at DEBUG."""
    workdir = tmp_path_factory.mktemp("debug-logs")
    livekit = LiveKitServer(workdir).start()
    backend = worker = None
    try:
        backend = Backend(workdir, livekit, {"LOG_LEVEL": "DEBUG"}, loglevel="debug").start()
        worker = AgentWorker(
            workdir, livekit, backend, inference_service, extra_env={"LOG_LEVEL": "DEBUG"}
        ).start()
        yield livekit, backend, worker
    finally:
        for process in (worker, backend, livekit):
            if process is not None:
                process.stop()


async def test_a_whole_visit_logged_at_debug_leaves_no_secret_in_any_log(
    debug_deployment: tuple[LiveKitServer, Backend, AgentWorker], tmp_path: Path
) -> None:
    livekit, backend, worker = debug_deployment
    question = spoken_frame("What is the capital of France?", tmp_path)
    with httpx.Client(base_url=backend.base_url, timeout=30) as api:
        user = sign_in(api, password=PASSWORD, display_name="Careful")
        client = await VoiceClient.join(api, user)
        try:
            await client.wait_for("the greeting", lambda: client.agent_transcripts(), TIMEOUT)
            await client.wait_for(
                "the agent listening", lambda: client.agent_states[-1][1] == "listening", 30
            )
            ended = await client.speak(question)
            await client.wait_for("a spoken reply", lambda: client.agent_transcripts(after=ended), TIMEOUT)
            sent = await client.send_chat("And of Italy?")
            await client.wait_for("a typed reply", lambda: client.agent_transcripts(after=sent), TIMEOUT)
        finally:
            await client.close()
        grant = await asyncio.to_thread(api.post, "/api/generate-token", json={}, headers=user.headers)
        wrong = await asyncio.to_thread(
            api.post, "/api/auth/login", json={"email": user.email, "password": PASSWORD + "!"}
        )
        signed_out = await asyncio.to_thread(api.post, "/api/auth/logout", headers=user.headers)
    await asyncio.sleep(3)  # the worker writes the end of the conversation

    assert (grant.status_code, wrong.status_code, signed_out.status_code) == (200, 401, 204)
    logs = {"backend": backend.log(), "agent worker": worker.log()}
    for log_name, text in logs.items():
        assert "DEBUG" in text, f"the {log_name} did not log at DEBUG"
    assert re.search(r"^\S+ \S+ DEBUG ", logs["backend"], re.MULTILINE), (
        "the backend's records are not at DEBUG"
    )
    secrets = {
        "the password": PASSWORD,
        "the session token": user.token,
        "the LiveKit token": grant.json()["token"],
        "the LiveKit token's signature": grant.json()["token"].rsplit(".", 1)[1],
        "the LiveKit API secret": livekit.api_secret,
    }
    leaks = [
        f"{what} in the {log_name} log"
        for log_name, text in logs.items()
        for what, secret in secrets.items()
        if secret in text
    ]
    assert leaks == []
