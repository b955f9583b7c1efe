"""A replacement agent knows it replaces one, greets as someone coming back, and has the chat so far."""

from __future__ import annotations

import json

import pytest

from agent_worker import prompts
from agent_worker.resume import EarlierConversation
from voice_app.protocol import AgentDispatchMetadata


def test_the_replacement_keeps_who_the_user_is_and_is_marked_resumed() -> None:
    lost = json.dumps({"display_name": "Ada", "user_id": 7})
    parsed = AgentDispatchMetadata.parse(AgentDispatchMetadata.resumed_from(lost))
    assert parsed == AgentDispatchMetadata(display_name="Ada", user_id=7, resumed=True)


@pytest.mark.parametrize("lost", ["", "not json", "[1, 2]"])
def test_unreadable_metadata_still_gives_a_resumed_agent(lost: str) -> None:
    assert AgentDispatchMetadata.parse(AgentDispatchMetadata.resumed_from(lost)).resumed


def test_a_first_agent_is_not_resumed() -> None:
    assert not AgentDispatchMetadata.parse(json.dumps({"display_name": "Ada", "resumed": "yes"})).resumed


def test_the_replacement_says_it_is_back() -> None:
    assert "back" in prompts.resumed_greeting("Ada")
    assert "Ada" in prompts.resumed_greeting("Ada")


def test_the_stored_messages_become_the_llms_chat_so_far() -> None:
    earlier = EarlierConversation(
        1, [("agent", "Hello!"), ("user", "My colour is green."), ("agent", "Nice.")]
    )
    items = earlier.chat_context().items
    assert [(item.role, item.text_content) for item in items] == [
        ("assistant", "Hello!"),
        ("user", "My colour is green."),
        ("assistant", "Nice."),
    ]
