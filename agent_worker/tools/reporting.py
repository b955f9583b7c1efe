"""Tool calls as the user sees them: on the talk page while they run, and in the history.

Each call is published on the data topic ``voice-app.tool`` as JSON ``{"id", "name", "status",
"text"}``: first ``status: "running"`` with the tool's running text ("Looking through your past
conversations…"), then ``done`` or ``error`` with its result (the text the LLM received, cut to
``RESULT_MAX_CHARS``). Both are stored as ``tool`` messages of the conversation (sources
``call`` and ``result``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.voice.events import ToolExecutionUpdatedEvent

from agent_worker.tools.base import DeclaredTool, ToolContext, running_text
from agent_worker.transcripts import TranscriptStore
from voice_app.history.models import MessageSource
from voice_app.protocol import TOOL_TOPIC

logger = logging.getLogger(__name__)

RESULT_MAX_CHARS = 600
FAILED_TEXT = "The tool could not answer."


def tool_message(*, call_id: str, name: str, status: str, text: str) -> bytes:
    """One report for the page, as it travels on ``TOOL_TOPIC``."""
    return json.dumps({"id": call_id, "name": name, "status": status, "text": text}).encode()


def result_text(message: str | None, status: str) -> str:
    """What the page and the history show as the result (the model's own copy is not cut)."""
    if status == "cancelled":
        return "Stopped."
    if status == "error":
        return message or FAILED_TEXT
    text = " ".join((message or "Done.").split())
    return text if len(text) <= RESULT_MAX_CHARS else text[: RESULT_MAX_CHARS - 1].rstrip() + "…"


class ToolReporter:
    """Follows one session's tool calls and reports each one to the room and the store."""

    def __init__(
        self,
        room: rtc.Room,
        store: TranscriptStore | None,
        tools: Iterable[DeclaredTool],
        spawn: Callable[[Coroutine[Any, Any, object]], None],
    ) -> None:
        self._room = room
        self._store = store
        self._running_texts = {declared.info.name: running_text(declared) for declared in tools}
        self._spawn = spawn
        self._names: dict[str, str] = {}

    def watch(self, session: AgentSession[ToolContext]) -> None:
        """Subscribe to the session's tool lifecycle."""
        session.on("tool_execution_updated", self._on_update)

    def _on_update(self, event: ToolExecutionUpdatedEvent) -> None:
        update = event.update
        if update.type == "tool_call_started":
            call = update.function_call
            self._names[call.call_id] = call.name
            text = self._running_texts.get(call.name, f"Using {call.name}…")
            self._report(call_id=call.call_id, name=call.name, status="running", text=text, source="call")
        elif update.type == "tool_call_ended":
            name = self._names.pop(update.call_id, "")
            text = result_text(update.message, update.status)
            status = "done" if update.status == "done" else "error"
            self._report(call_id=update.call_id, name=name, status=status, text=text, source="result")

    def _report(self, *, call_id: str, name: str, status: str, text: str, source: MessageSource) -> None:
        logger.info("tool call", extra={"tool": name, "status": status})
        if self._store:
            self._store.add(role="tool", source=source, text=text, at=time.time())
        self._spawn(self._publish(tool_message(call_id=call_id, name=name, status=status, text=text)))

    async def _publish(self, payload: bytes) -> None:
        if not self._room.isconnected():
            return
        try:
            await self._room.local_participant.publish_data(payload, reliable=True, topic=TOOL_TOPIC)
        except Exception:
            logger.warning("could not report a tool call to the page", exc_info=True)
