"""The names the backend, the agent worker and the talk page's JavaScript agree on.

One definition each: the worker imports them, the backend puts them in tokens and pages, and the
JSX receives them as props (``livekit_components.agent_session``), so none is spelled twice.
Kept free of Reflex, FastAPI and database imports so the agent image can import it cheaply.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal, cast

logger = logging.getLogger(__name__)

LATENCY_TOPIC = "voice-app.latency"
"""Data topic of the worker's per-turn latency messages (``agent_worker.latency``)."""
LATENCY_MESSAGE_TYPE = "turn_latency"
"""The ``type`` field of a latency message."""
LATENCY_MESSAGE_VERSION = 1

LLM_PROVIDER_ATTRIBUTE = "voice-app.llm"
"""Agent participant attribute naming the provider its LLM runs on (an `LlmProvider`)."""
LlmProvider = Literal["local", "openai", "compatible"]

AGENT_JOIN_TIMEOUT_SECONDS = 20
"""How long the talk page waits for the agent to join before it says so."""

HEARTBEAT_ATTRIBUTE = "voice-app.heartbeat"
"""Agent participant attribute the worker counts up every `HEARTBEAT_INTERVAL_SECONDS`.

An agent whose whole worker was lost stays listed in its room, silent, until LiveKit times its
connection out (~20 s); a heartbeat that stops tells its user's page (or API client) much sooner.
"""
HEARTBEAT_INTERVAL_SECONDS = 1.0
AGENT_SILENT_AFTER_SECONDS = 4.0
"""A client that saw no heartbeat of its agent for this long asks the backend to check and
replace it (``POST /api/rooms/{room}/agent/recover``)."""

MicrophoneProblem = Literal["microphone_denied", "microphone_missing", "microphone_busy", "microphone_failed"]
MICROPHONE_ERRORS: dict[str, MicrophoneProblem] = {
    "NotAllowedError": "microphone_denied",
    "PermissionDeniedError": "microphone_denied",
    "NotFoundError": "microphone_missing",
    "DevicesNotFoundError": "microphone_missing",
    "NotReadableError": "microphone_busy",
    "TrackStartError": "microphone_busy",
}
"""The browser's error names (``DOMException.name``, with older Chrome's) when opening the microphone
fails; any other name is ``microphone_failed``. The page reports the raw name, Python classifies it."""

MAX_DISPLAY_NAME_LENGTH = 80

RESUMED_KEY = "resumed"
"""Dispatch metadata key: this agent replaces a lost one and goes on with its conversation."""


@dataclass(frozen=True)
class AgentDispatchMetadata:
    """What the backend puts in the token's agent dispatch and the worker reads from its job."""

    display_name: str | None = None
    user_id: int | None = None
    resumed: bool = False
    """Set when a new agent is sent in place of a lost one (``voice_app/rooms/agent_return.py``)."""

    def to_json(self) -> str:
        """The metadata string of a ``RoomAgentDispatch``."""
        data: dict[str, Any] = {"display_name": self.display_name, "user_id": self.user_id}
        if self.resumed:
            data[RESUMED_KEY] = True
        return json.dumps(data)

    @classmethod
    def resumed_from(cls, lost_agent_metadata: str) -> str:
        """The metadata of an agent sent in place of a lost one: the same user, marked resumed."""
        return dataclasses.replace(cls.parse(lost_agent_metadata), resumed=True).to_json()

    @classmethod
    def parse(cls, raw: str) -> AgentDispatchMetadata:
        """Read dispatch metadata defensively: anything missing or malformed just means "unknown"."""
        try:
            data: Any = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            logger.warning("dispatch metadata is not JSON; greeting without a name")
            return cls()
        if not isinstance(data, dict):
            return cls()
        data = cast("dict[str, object]", data)  # JSON: string keys, values of any JSON type
        name = data.get("display_name")
        name = name.strip()[:MAX_DISPLAY_NAME_LENGTH] if isinstance(name, str) else ""
        user_id = data.get("user_id")
        return cls(
            display_name=name or None,
            user_id=int(user_id) if isinstance(user_id, int | str) and str(user_id).isdigit() else None,
            resumed=data.get(RESUMED_KEY) is True,
        )


TOOL_TOPIC = "voice-app.tool"
"""Data topic of the agent's tool-call reports (format: ``agent_worker/tools/reporting.py``)."""
TIME_ZONE_ATTRIBUTE = "voice-app.time_zone"
"""User participant attribute with the browser's IANA time zone, read by the agent's tools."""

START_TURN = "voice-app.start_turn"
"""Push-to-talk RPC methods the page calls on the agent (``agent_worker/push_to_talk.py``)."""
END_TURN = "voice-app.end_turn"
CANCEL_TURN = "voice-app.cancel_turn"
