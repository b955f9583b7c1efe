"""Workers are replaced one by one under running conversations: users notice nothing.

A restarted backend keeping its users signed in is tested on the production stack
(`test_deploy.py`).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.factories import sign_in
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker, Deployment
from tests.test_agent_worker import GREETING_TIMEOUT, REPLY_TIMEOUT, stored_conversations

pytestmark = pytest.mark.slow

DRAINING_WORKER = {"DRAIN_TIMEOUT_SECONDS": "300", "WORKER_LOAD_THRESHOLD": "2"}
CONVERSATIONS = 3


async def test_a_rolling_restart_of_every_worker_ends_no_conversation(
    isolated_deployment: Deployment,
) -> None:
    old = [
        isolated_deployment.worker(f"rolling-old-{n}", mode="start", extra_env=DRAINING_WORKER).start()
        for n in range(2)
    ]
    new: list[AgentWorker] = []
    try:
        with httpx.Client(base_url=isolated_deployment.backend.base_url, timeout=30) as api:
            users = [sign_in(api, display_name=f"User {n}") for n in range(CONVERSATIONS)]
            clients = [await VoiceClient.join(api, user) for user in users]
            try:
                await asyncio.gather(
                    *(
                        c.wait_for("the greeting", lambda c=c: c.agent_transcripts(), GREETING_TIMEOUT)
                        for c in clients
                    )
                )
                agents = [c.agent_identity for c in clients]
                # LiveKit chooses where each conversation goes: one worker may hold all of them
                holding = [w for w in old if w.job_processes_in_rooms(isolated_deployment.livekit.port)]
                for step, worker in enumerate(old):
                    worker.terminate()
                    new.append(
                        isolated_deployment.worker(
                            f"rolling-new-{step}", mode="start", extra_env=DRAINING_WORKER
                        ).start()
                    )
                    await asyncio.gather(
                        *(
                            c.ask(f"Still there after restart {step}?", REPLY_TIMEOUT, until_listening=False)
                            for c in clients
                        )
                    )
                    assert all(w.running for w in holding), "a draining worker left its conversations"
                assert [c.agent_identity for c in clients] == agents, "a conversation changed agent"
            finally:
                await asyncio.gather(*(c.close() for c in clients))
            exit_codes = [await asyncio.to_thread(worker.wait, 60) for worker in old]
    finally:
        for worker in old + new:
            worker.stop()
    assert exit_codes == [0, 0], "a drained worker did not exit cleanly once its conversations ended"
    for user in users:
        [(_conversation, messages)] = stored_conversations(isolated_deployment.backend, user.user_id)
        assert [m.text for m in messages if m.role == "user"] == [
            "Still there after restart 0?",
            "Still there after restart 1?",
        ]
