"""Two minutes of conversations started and ended back to back: every message kept, no errors.

Two users at a time, each conversation a new user who hears the greeting, asks three typed
questions (each answered before the next) and leaves; then the next one starts. Real
livekit-server, backend, worker and local models (the shared ones of the suite). The long
version, with memory and latency over ten minutes, is `bench/soak.py`.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.backend import Backend
from tests.support.soak import back_to_back, error_lines, lost_messages
from tests.support.worker import AgentWorker

pytestmark = pytest.mark.slow

SOAK_SECONDS = 120
LANES = 2
AT_LEAST = 4
"""Fewer conversations than this in two minutes would not be a soak (about 10 fit on 2 cores)."""


async def test_conversations_back_to_back_for_two_minutes_lose_no_message_and_log_no_error(
    backend: Backend, agent_worker: AgentWorker
) -> None:
    worker_log_before, backend_log_before = len(agent_worker.log()), len(backend.log())
    with httpx.Client(base_url=backend.base_url, timeout=30) as api:
        conversations = await back_to_back(api, seconds=SOAK_SECONDS, lanes=LANES)

    assert len(conversations) >= AT_LEAST, f"only {len(conversations)} conversations in {SOAK_SECONDS} s"
    losses = await lost_messages(backend, conversations)
    assert losses == [], f"messages lost or changed in {len(losses)} of {len(conversations)} conversations"
    assert error_lines(agent_worker.log()[worker_log_before:], conversations) == []
    assert error_lines(backend.log()[backend_log_before:]) == []
