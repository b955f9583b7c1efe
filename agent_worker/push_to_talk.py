"""Push-to-talk: the agent hears the user only while they hold the talk button.

The page calls three RPC methods on the agent participant: ``START_TURN`` when the button (or
the space bar) goes down, ``END_TURN`` when it is released, ``CANCEL_TURN`` when the press is
abandoned (the pointer left, the page lost focus). Between presses the session's audio input is
off, so the agent neither transcribes nor is interrupted by anything the microphone picks up;
the turn is committed by the release, not by silence (``turn_detection="manual"`` on the agent).
Only the conversation's own user may press.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession

from voice_app.protocol import CANCEL_TURN, END_TURN, START_TURN

logger = logging.getLogger(__name__)

TRANSCRIPT_TIMEOUT_SECONDS = 10.0
"""How long the final transcript of a released press may take (the offline STT is slow when busy)."""


class NotYourConversation(rtc.RpcError):
    """A press from someone who is not this conversation's user."""

    def __init__(self) -> None:
        super().__init__(rtc.RpcError.ErrorCode.APPLICATION_ERROR, "only the conversation's user can talk")


def enable_push_to_talk(session: AgentSession[Any], room: rtc.Room, *, user_identity: str) -> None:
    """Turn the session's audio input off and let the user's presses open and close their turns."""
    session.input.set_audio_enabled(False)

    def check_caller(data: rtc.RpcInvocationData) -> None:
        if data.caller_identity != user_identity:
            raise NotYourConversation()

    async def start_turn(data: rtc.RpcInvocationData) -> str:
        check_caller(data)
        with contextlib.suppress(RuntimeError):  # speech that may not be interrupted goes on
            await session.interrupt()
        session.clear_user_turn()
        session.input.set_audio_enabled(True)
        return "listening"

    async def end_turn(data: rtc.RpcInvocationData) -> str:
        check_caller(data)
        session.input.set_audio_enabled(False)
        session.commit_user_turn(transcript_timeout=TRANSCRIPT_TIMEOUT_SECONDS)
        return "committed"

    async def cancel_turn(data: rtc.RpcInvocationData) -> str:
        check_caller(data)
        session.input.set_audio_enabled(False)
        session.clear_user_turn()
        return "cancelled"

    # called, not used as a decorator: the decorator form is typed as a union the type checker cannot apply
    participant = room.local_participant
    participant.register_rpc_method(START_TURN, start_turn)
    participant.register_rpc_method(END_TURN, end_turn)
    participant.register_rpc_method(CANCEL_TURN, cancel_turn)
    logger.info("push-to-talk on")
