"""Per-turn latency: how long each stage took between the user's turn and the agent's answer.

livekit-agents puts the timings on the chat messages themselves (``ChatMessage.metrics``): the
user's message carries the end-of-turn and transcription delays, the agent's reply the LLM's
time to first token, the TTS's time to first byte and the end-to-end delay. When a reply is
added to the conversation they are logged and published to the room as one JSON data message
on ``voice_app.protocol.LATENCY_TOPIC`` (see :meth:`TurnLatency.to_message`) for the UI to show.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from typing import Literal

from livekit import rtc
from livekit.agents import llm

from voice_app.protocol import LATENCY_MESSAGE_TYPE, LATENCY_MESSAGE_VERSION, LATENCY_TOPIC

PUBLISH_TIMEOUT_SECONDS = 2.0
"""A report the page cannot receive (it just left) is dropped rather than waited for."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnLatency:
    """Seconds per stage for one user turn and the reply to it (``None``: did not apply)."""

    input: Literal["spoken", "typed"]
    end_of_turn: float | None
    """End of the user's speech to the decision that their turn is over."""
    stt: float | None
    """End of the user's speech to the final transcript."""
    llm_ttft: float | None
    """LLM request to its first token."""
    llm_first_sentence: float | None
    """LLM request to its first sentence reaching the TTS (speech starts per sentence)."""
    tts_ttfb: float | None
    """First text sent to the TTS to its first audio."""
    e2e: float | None
    """End of the user's speech to the agent starting to speak."""

    @classmethod
    def from_messages(cls, user: llm.ChatMessage, reply: llm.ChatMessage, *, typed: bool) -> TurnLatency:
        """Combine the metrics of a user message and the agent's reply to it."""
        u, r = user.metrics, reply.metrics
        return cls(
            input="typed" if typed else "spoken",
            end_of_turn=u.get("end_of_turn_delay"),
            stt=u.get("transcription_delay"),
            llm_ttft=r.get("llm_node_ttft"),
            llm_first_sentence=r.get("llm_node_ttfs"),
            tts_ttfb=r.get("tts_node_ttfb"),
            e2e=r.get("e2e_latency"),
        )

    def to_message(self) -> bytes:
        """The JSON data message the UI receives.

        ``{"type": "turn_latency", "version": 1, "input": "spoken" | "typed", "end_of_turn_ms",
        "stt_ms", "llm_ttft_ms", "llm_first_sentence_ms", "tts_ttfb_ms", "e2e_ms"}``; each ``*_ms``
        is an integer or null.
        """
        payload: dict[str, object] = {
            "type": LATENCY_MESSAGE_TYPE,
            "version": LATENCY_MESSAGE_VERSION,
            "input": self.input,
        }
        for stage, seconds in asdict(self).items():
            if stage != "input":
                payload[f"{stage}_ms"] = None if seconds is None else round(seconds * 1000)
        return json.dumps(payload).encode()


class LatencyReporter:
    """Pairs each user message with the reply that follows it, then logs and publishes."""

    def __init__(self, room: rtc.Room) -> None:
        self._room = room
        self._last_user: tuple[llm.ChatMessage, bool] | None = None

    def user_message(self, message: llm.ChatMessage, *, typed: bool) -> None:
        """Remember the user's latest message (the next reply answers it)."""
        self._last_user = (message, typed)

    async def agent_message(self, message: llm.ChatMessage) -> TurnLatency | None:
        """Report the turn that ``message`` completes; ``None`` if it answered no user message."""
        if self._last_user is None:
            return None
        user, typed = self._last_user
        self._last_user = None
        latency = TurnLatency.from_messages(user, message, typed=typed)
        logger.info("turn latency", extra={f"latency_{k}": v for k, v in asdict(latency).items()})
        if self._room.isconnected():
            try:
                await asyncio.wait_for(
                    self._room.local_participant.publish_data(
                        latency.to_message(), reliable=True, topic=LATENCY_TOPIC
                    ),
                    PUBLISH_TIMEOUT_SECONDS,
                )
            except Exception:
                logger.warning("could not publish turn latency", exc_info=True)
        return latency
