"""The agent's tools as functions: the time in the user's zone, recall's words, the page's reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from agent_worker.tools import TOOLS, offered_tools, running_text
from agent_worker.tools.clock import describe_now
from agent_worker.tools.recall import describe_recalled
from agent_worker.tools.reporting import RESULT_MAX_CHARS, result_text, tool_message
from voice_app.history.recall import RecalledMessage, query_words

NOW = datetime(2026, 11, 30, 23, 15, tzinfo=UTC)


def test_the_time_is_told_in_the_browser_time_zone() -> None:
    assert describe_now(NOW, "Asia/Tokyo") == "It is Tuesday 1 December 2026, 08:15 (Asia/Tokyo)."
    assert describe_now(NOW, "America/New_York") == "It is Monday 30 November 2026, 18:15 (America/New_York)."


def test_an_unknown_or_missing_time_zone_says_the_time_is_utc() -> None:
    for zone in (None, "", "Mars/Olympus_Mons", "../etc/passwd"):
        assert describe_now(NOW, zone) == (
            "It is Monday 30 November 2026, 23:15 (UTC; the user's time zone is not known)."
        )


def test_recall_keeps_the_words_of_the_question_that_are_worth_searching() -> None:
    assert query_words("What did we talk about last time?") == []
    assert query_words("my trip to Lisbon, the Lisbon trip") == ["trip", "lisbon"]


def test_recalled_messages_are_told_per_conversation_with_who_said_what() -> None:
    first = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    messages = [
        RecalledMessage(1, first, "user", "I am planning a trip to Lisbon."),
        RecalledMessage(1, first, "agent", "Lovely, Lisbon is sunny in May."),
        RecalledMessage(2, datetime(2026, 11, 9, 18, 0, tzinfo=UTC), "user", "x" * 500),
    ]
    told = describe_recalled(messages, "Europe/Lisbon")
    assert told.startswith(
        'In the conversation of Monday 2 November 2026 at 09:30: the user said "I am planning a trip to '
        'Lisbon." you answered "Lovely, Lisbon is sunny in May." In the conversation of Monday 9 November'
    )
    assert told.endswith('x…"')
    assert describe_recalled([], None) == "There are no earlier conversations with this user."


def test_every_tool_has_a_description_and_words_for_the_page() -> None:
    for declared in TOOLS:
        assert declared.info.description, declared.info.name
        assert running_text(declared).endswith("…")
    assert running_text(TOOLS[1]) == "Looking through your past conversations…"


def test_the_tiny_offline_model_gets_no_tools_unless_asked() -> None:
    assert offered_tools("local", local_llm_tools=False) == []
    assert offered_tools("local", local_llm_tools=True) == TOOLS
    assert offered_tools("openai", local_llm_tools=False) == TOOLS


def test_tool_reports_for_the_page_are_short_json() -> None:
    message = json.loads(tool_message(call_id="c1", name="recall", status="running", text="Looking…"))
    assert message == {"id": "c1", "name": "recall", "status": "running", "text": "Looking…"}
    assert len(result_text("word " * 400, "done")) == RESULT_MAX_CHARS
    assert result_text(None, "error") == "The tool could not answer."
    assert result_text("Earlier conversations are not available.", "error") == (
        "Earlier conversations are not available."
    )
