"""Memory across conversations, opt-in per user: a new conversation starts with the agent knowing
what the user asked last time, and only when they turned memory on.

Real livekit-server, backend, database and worker; the agent's instructions are read where they
leave the worker, at the stand-in cloud LLM (``tests/support/standin_llm.py``).
"""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import Session

from tests.factories import SignedInUser, sign_in
from tests.support.standin_llm import StandinLLM, system_prompt
from tests.support.worker import AgentWorker, Deployment
from tests.test_agent_tools import wait_for_stored
from tests.test_agent_worker import REPLY_TIMEOUT, talking
from voice_app.db import make_engine
from voice_app.memory.preferences import Preferences, set_preferences

pytestmark = pytest.mark.slow

FIRST_QUESTION = "Which museums should I see on my trip to Lisbon?"


def choose(deployment: Deployment, user: SignedInUser, preferences: Preferences) -> None:
    """Store the user's choices, as the settings page does."""
    with Session(make_engine(deployment.backend.database_url)) as session:
        set_preferences(session=session, user_id=user.user_id, preferences=preferences)


async def instructions_of_the_next_conversation(
    api: httpx.Client, user: SignedInUser, llm: StandinLLM
) -> str:
    """The system prompt the agent sends with its first answer in a new conversation."""
    async with talking(api, user) as client:
        asked_before = len(llm.requests)
        sent = await client.send_chat("Hello again.")
        await client.wait_for("a reply", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT)
    return system_prompt(llm.requests[asked_before])


async def test_with_memory_on_a_new_conversation_starts_knowing_what_the_user_asked_last_time(
    isolated_deployment: Deployment, worker_on_cloud_llm: AgentWorker, tool_calling_llm: StandinLLM
) -> None:
    with httpx.Client(base_url=isolated_deployment.backend.base_url, timeout=30) as api:
        remembering, forgetting = sign_in(api, display_name="Ana"), sign_in(api, display_name="Rui")
        choose(isolated_deployment, remembering, Preferences(memory=True))
        for user in (remembering, forgetting):
            async with talking(api, user) as client:
                sent = await client.send_chat(FIRST_QUESTION)
                await client.wait_for(
                    "a reply", lambda c=client, at=sent: c.agent_transcripts(after=at), REPLY_TIMEOUT
                )
            await wait_for_stored(isolated_deployment.backend, user.user_id, FIRST_QUESTION)

        remembered = await instructions_of_the_next_conversation(api, remembering, tool_calling_llm)
        not_remembered = await instructions_of_the_next_conversation(api, forgetting, tool_calling_llm)

    assert f'Last time the user asked about "{FIRST_QUESTION}"' in remembered, remembered
    assert "Lisbon" not in not_remembered, not_remembered
    assert "Last time" not in not_remembered
