"""What the agent's LLM sees of a long conversation, and how full a worker says it is."""

from __future__ import annotations

import pytest
from livekit.agents import llm

from agent_worker.agent import recent_context
from agent_worker.load import conversation_load
from voice_app.protocol import AgentDispatchMetadata


def conversation(turns: int) -> llm.ChatContext:
    chat = llm.ChatContext()
    chat.add_message(role="system", content="Be brief.")
    for index in range(turns):
        chat.add_message(role="user" if index % 2 == 0 else "assistant", content=f"message {index}")
    return chat


def texts(chat: llm.ChatContext) -> list[str]:
    return [item.text_content or "" for item in chat.items if isinstance(item, llm.ChatMessage)]


def test_a_short_conversation_is_seen_whole() -> None:
    chat = conversation(10)
    assert texts(recent_context(chat, keep=24)) == texts(chat)


def test_a_long_conversation_keeps_the_instructions_and_the_latest_turns() -> None:
    seen = texts(recent_context(conversation(30), keep=24))
    assert seen[0] == "Be brief."
    assert seen[-1] == "message 29"
    assert len(seen) - 1 <= 24


def test_the_beginning_of_the_prompt_stays_put_while_the_conversation_grows() -> None:
    """Old turns go in blocks, so an LLM server can reuse the prompt it already read."""
    firsts = [texts(recent_context(conversation(turns), keep=24))[1] for turns in range(25, 36)]
    assert len(set(firsts)) == 1, firsts
    assert texts(recent_context(conversation(36), keep=24))[1] != firsts[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"display_name": " Ada ", "user_id": 7}', AgentDispatchMetadata("Ada", 7)),
        ('{"display_name": "", "user_id": "12"}', AgentDispatchMetadata(None, 12)),
        ("not json", AgentDispatchMetadata()),
        ('["a list"]', AgentDispatchMetadata()),
        ('{"user_id": "7; drop table"}', AgentDispatchMetadata()),
        ("", AgentDispatchMetadata()),
        ('{"display_name": "' + "x" * 500 + '"}', AgentDispatchMetadata("x" * 80)),
    ],
)
def test_dispatch_metadata_from_the_backend_is_read_defensively(
    raw: str, expected: AgentDispatchMetadata
) -> None:
    assert AgentDispatchMetadata.parse(raw) == expected


def test_a_worker_is_full_exactly_at_its_conversation_limit() -> None:
    threshold = 0.7
    assert conversation_load(0, 6, threshold) == 0
    assert conversation_load(5, 6, threshold) < threshold
    assert conversation_load(6, 6, threshold) == pytest.approx(threshold)
    assert conversation_load(60, 6, threshold) == 1.0
