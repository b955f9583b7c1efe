"""What the talk page says as the LiveKit session reports facts: its state handlers, called directly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from voice_app.protocol import LATENCY_MESSAGE_TYPE
from voice_app.talk.state import CHAT_MESSAGE_MAX_CHARS, TalkState


@pytest.fixture
def talk() -> TalkState:
    """The state of a page whose conversation is connecting (Start was pressed, a token arrived)."""
    state = TalkState(_reflex_internal_init=True)  # type: ignore[call-arg]
    state.stage = "connecting"
    state.room_name = "room-1"
    state.connect = True
    return state


def handle(state: TalkState, handler: str, *args: Any) -> Any:
    """Run one event handler of ``state`` as Reflex would, without an app or a browser."""
    return getattr(TalkState, handler).fn(state, *args)


def test_the_stage_follows_the_session_and_the_first_wait_starts_the_busy_check(talk: TalkState) -> None:
    follow_up = handle(talk, "session_state_changed", {"stage": "waiting", "llm_provider": ""})
    assert talk.stage_label == "Waiting for the agent…"
    assert follow_up is TalkState.check_agents_busy

    assert handle(talk, "session_state_changed", {"stage": "listening", "llm_provider": "local"}) is None
    assert (talk.stage, talk.stage_label, talk.stage_color) == ("listening", "Listening", "grass")
    assert talk.llm_provider == "local"


def test_reports_of_unknown_stages_or_after_the_end_change_nothing(talk: TalkState) -> None:
    handle(talk, "session_state_changed", {"stage": "exploded"})
    assert talk.stage == "connecting"

    handle(talk, "end_conversation")
    handle(talk, "session_state_changed", {"stage": "listening"})
    assert talk.stage == "disconnected"


@pytest.mark.parametrize(
    ("error_name", "title"),
    [
        ("NotAllowedError", "The microphone is blocked"),
        ("PermissionDeniedError", "The microphone is blocked"),
        ("NotFoundError", "No microphone found"),
        ("NotReadableError", "The microphone is in use"),
        ("AbortError", "The microphone did not start"),
    ],
)
def test_a_microphone_failure_is_said_in_words_and_the_conversation_goes_on(
    talk: TalkState, error_name: str, title: str
) -> None:
    handle(
        talk, "session_failed", {"kind": "device_failed", "source": "microphone", "error_name": error_name}
    )

    assert talk.problem_title == title
    assert not talk.problem_ends_session
    assert talk.connect  # typing still works

    handle(talk, "track_changed", "microphone", True)
    assert talk.problem == ""  # unmuting clears it


def test_a_failure_that_ends_the_conversation_leaves_the_room_and_offers_a_retry(talk: TalkState) -> None:
    handle(talk, "session_failed", {"kind": "livekit_unreachable", "detail": "connect ECONNREFUSED"})

    assert talk.problem_title == "The voice server is unreachable"
    assert talk.problem_ends_session
    assert (talk.connect, talk.stage, talk.stage_color) == (False, "failed", "red")


def test_an_unknown_failure_is_still_said_and_a_late_one_does_not_replace_the_first(talk: TalkState) -> None:
    handle(talk, "session_failed", {"kind": "something new"})
    assert talk.problem == "connect_failed"

    handle(talk, "session_failed", {"kind": "agent_timeout"})  # the join timer outlived the room
    assert talk.problem == "connect_failed"


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        ("ROOM_DELETED", "ended_by_server"),
        ("SERVER_SHUTDOWN", "ended_by_server"),
        ("JOIN_FAILURE", "network_dropped"),
    ],
)
def test_an_unrequested_disconnect_says_who_ended_it(talk: TalkState, reason: str, problem: str) -> None:
    handle(talk, "session_disconnected", {"reason": reason, "requested": False})
    assert talk.problem == problem


def test_pressing_end_is_not_a_problem(talk: TalkState) -> None:
    handle(talk, "end_conversation")
    handle(talk, "session_disconnected", {"reason": "CLIENT_INITIATED", "requested": True})

    assert (talk.problem, talk.stage_label) == ("", "Disconnected")


def test_a_typed_message_is_trimmed_numbered_and_handed_to_the_session(talk: TalkState) -> None:
    handle(talk, "send_chat", {"message": "  hello  "})
    handle(talk, "send_chat", {"message": "x" * (CHAT_MESSAGE_MAX_CHARS + 50)})
    handle(talk, "send_chat", {"message": "   "})

    assert talk.outgoing_chat == {"id": 2, "text": "x" * CHAT_MESSAGE_MAX_CHARS}


def test_nothing_is_sent_once_the_conversation_ended(talk: TalkState) -> None:
    handle(talk, "end_conversation")
    handle(talk, "send_chat", {"message": "hello"})
    assert talk.outgoing_chat == {"id": 0, "text": ""}


def test_a_spoken_line_grows_in_place_and_typed_lines_follow_it(talk: TalkState) -> None:
    handle(talk, "transcript_changed", [{"id": "s1", "role": "user", "source": "spoken", "text": "Hel"}])
    handle(
        talk,
        "transcript_changed",
        [
            {"id": "s1", "role": "user", "source": "spoken", "text": "Hello there", "final": True},
            {"id": "c1", "role": "agent", "source": "typed", "text": "Hi!", "final": True},
        ],
    )

    assert [(line.id, line.role, line.source, line.text, line.final) for line in talk.lines] == [
        ("s1", "user", "spoken", "Hello there", True),
        ("c1", "agent", "typed", "Hi!", True),
    ]


def spoken(line_id: str, text: str, *, final: bool, role: str = "user") -> dict[str, Any]:
    return {"id": line_id, "role": role, "source": "spoken", "text": text, "final": final}


def delta_bytes(state: TalkState) -> int:
    """What Reflex would send the browser for the changes since the last call, in bytes."""
    size = len(json.dumps(state.get_delta(), default=str))
    state._clean()
    return size


def test_an_interim_word_sends_only_the_line_being_spoken_not_the_whole_conversation(talk: TalkState) -> None:
    for turn in range(40):
        handle(
            talk,
            "transcript_changed",
            [spoken(f"u{turn}", "What is the weather like in Paris today?", final=True)],
        )
        handle(
            talk,
            "transcript_changed",
            [spoken(f"a{turn}", "Sunny, with a light breeze.", final=True, role="agent")],
        )
    delta_bytes(talk)
    history = list(talk.lines)

    interim = [
        delta_bytes_after(talk, spoken("live", "the quick brown fox"[:n], final=False)) for n in (3, 9, 15)
    ]
    assert talk.lines == history, "an interim word changed the finished lines"
    assert [line.text for line in talk.live_lines] == ["the quick brown"]
    assert max(interim) < 600, f"an interim word sent {max(interim)} bytes"  # the 80 lines were ~11 KB

    finishing = delta_bytes_after(talk, spoken("live", "the quick brown fox", final=True))
    assert (talk.lines[-1].text, talk.live_lines) == ("the quick brown fox", [])
    assert finishing > 20 * max(interim), "the finished line should move into the conversation, once"


def delta_bytes_after(state: TalkState, item: dict[str, Any]) -> int:
    handle(state, "transcript_changed", [item])
    return delta_bytes(state)


def test_lines_keep_the_order_they_began_in_whichever_finishes_first(talk: TalkState) -> None:
    handle(talk, "transcript_changed", [spoken("a1", "Let me look", final=False, role="agent")])
    handle(
        talk,
        "tool_reported",
        {"id": "t1", "status": "running", "text": "Looking through your past conversations…"},
    )
    handle(talk, "tool_reported", {"id": "t1", "status": "done", "text": "You asked about Paris."})
    assert [line.id for line in talk.lines] == ["tool-t1", "tool-t1-result"]
    assert [line.id for line in talk.live_lines] == ["a1"]

    handle(talk, "transcript_changed", [spoken("a1", "Let me look that up.", final=True, role="agent")])
    assert [line.id for line in talk.lines] == ["a1", "tool-t1", "tool-t1-result"]
    assert talk.live_lines == []


def test_each_latency_report_becomes_a_numbered_row_and_other_messages_are_ignored(talk: TalkState) -> None:
    report = {
        "type": LATENCY_MESSAGE_TYPE,
        "input": "typed",
        "llm_ttft_ms": 412,
        "e2e_ms": None,
        "stt_ms": True,
    }
    handle(talk, "latency_received", report)
    handle(talk, "latency_received", {"type": "something else", "e2e_ms": 1})

    (row,) = talk.latencies
    assert (row.turn, row.input, row.llm_ttft, row.e2e, row.stt) == (1, "typed", "412 ms", "—", "—")


def test_camera_and_screen_share_failures_say_which_device(talk: TalkState) -> None:
    handle(talk, "device_failed", "camera", "NotAllowedError")
    assert talk.problem_title == "The camera did not start"
    handle(talk, "device_failed", "screen_share", "NotAllowedError")
    assert talk.problem_title == "Screen sharing did not start"
    assert talk.connect


def test_a_reloaded_page_starts_without_a_conversation(talk: TalkState) -> None:
    handle(talk, "transcript_changed", [{"id": "s1", "role": "user", "text": "Hello", "final": True}])
    handle(talk, "reset_on_load")

    assert (talk.stage, talk.connect, talk.lines, talk.room_name) == ("idle", False, [], "")


def test_a_silent_agent_is_said_checked_by_the_backend_and_cleared_when_a_new_one_speaks(
    talk: TalkState,
) -> None:
    handle(talk, "session_state_changed", {"stage": "listening", "llm_provider": "local"})

    follow_ups = handle(talk, "session_failed", {"kind": "agent_silent", "detail": "agent-AJ_1"})

    assert talk.problem_title == "The agent stopped responding"
    assert not talk.problem_ends_session
    assert talk.connect  # the conversation goes on
    assert follow_ups == [TalkState.wait_for_new_agent, TalkState.recover_silent_agent]
    handle(talk, "session_state_changed", {"stage": "waiting", "llm_provider": ""})
    assert talk.problem == "agent_silent"  # still no agent
    handle(talk, "session_state_changed", {"stage": "listening", "llm_provider": "local"})
    assert talk.problem == ""
