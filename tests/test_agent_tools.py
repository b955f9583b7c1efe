"""Tools the agent calls, as a user meets them: shown in the conversation while they run and
kept in the history; "what did we talk about last time?" answered from the earlier conversation.

Real livekit-server, backend, database, worker and local speech models; the LLM is a stand-in
cloud model at the OpenAI API boundary that calls the tools (``tests/support/standin_llm.py``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session

from agent_worker.tools.recall import describe_recalled, recall
from tests.factories import sign_in
from tests.support.backend import Backend, new_database
from tests.support.standin_llm import StandinLLM
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker, Deployment
from tests.test_agent_worker import REPLY_TIMEOUT, stored_conversations, talking
from voice_app.auth.models import User
from voice_app.db import make_engine
from voice_app.history.models import Conversation, ConversationMessage

pytestmark = pytest.mark.slow

FIRST_CONVERSATION = "I am planning a trip to Lisbon with my sister in May."


def tool_reports(client: VoiceClient, status: str) -> list[dict]:
    """The tool reports the page received with ``status``."""
    return [report for report in client.tool_reports if report["status"] == status]


async def test_last_time_is_answered_from_the_earlier_conversation_shown_while_it_runs_and_kept(
    isolated_deployment: Deployment, worker_on_cloud_llm: AgentWorker, tool_calling_llm: StandinLLM
) -> None:
    backend = isolated_deployment.backend
    with httpx.Client(base_url=backend.base_url, timeout=30) as api:
        user = sign_in(api, display_name="Inês")
        async with talking(api, user) as client:
            sent = await client.send_chat(FIRST_CONVERSATION)
            await client.wait_for("a reply", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT)
        await wait_for_stored(backend, user.user_id, FIRST_CONVERSATION)

        async with talking(api, user) as client:
            sent = await client.send_chat("What did we talk about last time?")
            running = await client.wait_for(
                "the tool shown running", lambda: tool_reports(client, "running"), 30
            )
            done = await client.wait_for("the tool's result", lambda: tool_reports(client, "done"), 30)
            answer = await client.wait_for(
                "the answer",
                lambda: [t for t in client.agent_transcripts(after=sent) if "Lisbon" in t.text],
                30,
            )
    assert running[0]["name"] == "recall_past_conversations"
    assert running[0]["text"] == "Looking through your past conversations…"
    assert "trip to Lisbon with my sister" in done[0]["text"], done[0]["text"]
    assert "Lisbon" in answer[0].text
    tools_given = [t["function"]["name"] for t in tool_calling_llm.requests[-1].get("tools", [])]
    assert "recall_past_conversations" in tools_given

    second = await wait_for_stored(backend, user.user_id, "Looking through your past conversations…")
    kept = [(m.role, m.source, m.text) for m in second]
    assert ("tool", "call", "Looking through your past conversations…") in kept
    assert any(role == "tool" and source == "result" and "Lisbon" in text for role, source, text in kept), (
        kept
    )


async def test_the_date_and_time_tool_answers_in_the_browser_time_zone(
    isolated_deployment: Deployment, worker_on_cloud_llm: AgentWorker
) -> None:
    with httpx.Client(base_url=isolated_deployment.backend.base_url, timeout=30) as api:
        user = sign_in(api, display_name="Tokyo")
        async with talking(api, user) as client:
            await client.set_time_zone("Asia/Tokyo")
            await client.send_chat("What time is it?")
            done = await client.wait_for(
                "the tool's result", lambda: tool_reports(client, "done"), REPLY_TIMEOUT
            )
    assert done[0]["name"] == "current_date_and_time"
    assert done[0]["text"].endswith("(Asia/Tokyo)."), done[0]["text"]
    in_tokyo = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"{in_tokyo:%H}:" in done[0]["text"] or f"{in_tokyo - timedelta(minutes=1):%H}:" in done[0]["text"]


async def wait_for_stored(backend: Backend, user_id: int, text: str) -> list[ConversationMessage]:
    """The latest conversation's messages once one of them holds ``text`` (writes are queued)."""
    for _ in range(100):
        conversations = stored_conversations(backend, user_id)
        if conversations and any(text in m.text for m in conversations[-1][1]):
            return conversations[-1][1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} was not stored")


def test_recall_searches_only_the_users_earlier_conversations_in_a_real_database(tmp_path: Path) -> None:
    engine = make_engine(new_database(tmp_path))
    started = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    with Session(engine) as session:
        ada, bob = (
            User(email="a@x.io", display_name="Ada", email_normalized="a@x.io", password_hash="x"),
            User(email="b@x.io", display_name="Bob", email_normalized="b@x.io", password_hash="x"),
        )
        session.add_all([ada, bob])
        session.commit()
        said = {
            (ada.id, "job-1", started): ["My dog Rex is ill.", "I hope Rex feels better soon."],
            (ada.id, "job-2", started + timedelta(days=3)): ["Book a table for two on Friday.", "Done."],
            (bob.id, "job-3", started + timedelta(days=4)): ["My dog Rex is Bob's dog.", "Nice."],
            (ada.id, "job-now", started + timedelta(days=5)): ["What about my dog?"],
        }
        for (user_id, job, at), texts in said.items():
            conversation = Conversation(user_id=user_id, room_name=job, agent_job_id=job, started_at=at)
            session.add(conversation)
            session.commit()
            for index, text in enumerate(texts):
                session.add(
                    ConversationMessage(
                        conversation_id=conversation.id,
                        role="user" if index % 2 == 0 else "agent",
                        source="typed",
                        text=text,
                        created_at=at + timedelta(seconds=index),
                    )
                )
            session.commit()
        ada_id = ada.id

    found = recall(engine=engine, user_id=ada_id, query="dog", current_job_id="job-now")
    assert [m.text for m in found] == ["My dog Rex is ill."]
    latest = recall(engine=engine, user_id=ada_id, query="", current_job_id="job-now")
    assert [m.text for m in latest] == ["Book a table for two on Friday.", "Done."]
    unknown = recall(engine=engine, user_id=ada_id, query="zebra", current_job_id="job-now")
    assert [m.text for m in unknown] == [m.text for m in latest]
    described = describe_recalled(found, "Europe/London")
    assert (
        described
        == 'In the conversation of Monday 2 November 2026 at 09:30: the user said "My dog Rex is ill."'
    )
