"""What the agent is told it remembers, and how it reaches its instructions."""

from __future__ import annotations

from datetime import UTC, datetime

from agent_worker import prompts
from voice_app.memory.summary import RememberedConversation, memory_summary

RECENT = [
    RememberedConversation(datetime(2026, 11, 29, tzinfo=UTC), ["A trip to Lisbon.", "Hotels there?"]),
    RememberedConversation(datetime(2026, 11, 20, tzinfo=UTC), ["My dog Rex is ill."]),
]


def test_the_latest_conversation_comes_first_as_last_time() -> None:
    assert memory_summary(RECENT) == (
        'Last time you asked about "A trip to Lisbon." and "Hotels there?". '
        'On November 20 you said "My dog Rex is ill.".'
    )


def test_the_agent_is_told_about_the_user_not_about_itself() -> None:
    assert memory_summary(RECENT, subject="the user").startswith('Last time the user asked about "A trip')


def test_nothing_remembered_leaves_the_instructions_as_they_are() -> None:
    assert memory_summary([]) == ""
    assert prompts.with_memory(prompts.INSTRUCTIONS, "") == prompts.INSTRUCTIONS


def test_a_summary_follows_the_instructions() -> None:
    told = prompts.with_memory(prompts.INSTRUCTIONS, 'Last time you asked about "Lisbon".')
    assert told.startswith(prompts.INSTRUCTIONS)
    assert told.endswith('Last time you asked about "Lisbon". Use this when it helps; do not recite it.')
