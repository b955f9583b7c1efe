"""Which conversations take the page's pre-connect recording (what was said before the agent joined)."""

from __future__ import annotations

import pytest

from agent_worker.session import MICROPHONE, microphone


def test_a_new_open_microphone_conversation_hears_what_was_said_before_the_agent_joined() -> None:
    assert microphone(push_to_talk=False, resumed=False).pre_connect_audio is True


@pytest.mark.parametrize(
    ("push_to_talk", "resumed"),
    [(True, False), (False, True), (True, True)],
    ids=["push-to-talk", "agent-sent-back", "both"],
)
def test_push_to_talk_and_a_returning_agent_take_no_recording(push_to_talk: bool, resumed: bool) -> None:
    options = microphone(push_to_talk=push_to_talk, resumed=resumed)
    assert options.pre_connect_audio is False
    # everything else about how the microphone is heard stays the same
    assert (options.sample_rate, options.auto_gain_control) == (
        MICROPHONE.sample_rate,
        MICROPHONE.auto_gain_control,
    )
