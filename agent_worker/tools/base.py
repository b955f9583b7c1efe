"""What every tool shares: the conversation it runs in, and how it is declared."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec

from livekit import rtc
from livekit.agents import function_tool, llm
from sqlalchemy import Engine

from voice_app.protocol import TIME_ZONE_ATTRIBUTE

_RUNNING = "_voice_app_running_text"

_P = ParamSpec("_P")

DeclaredTool = llm.FunctionTool[..., Awaitable[str]]
"""A tool as :func:`tool` declares it: whatever its arguments, it answers the model with a sentence."""


@dataclass
class ToolContext:
    """The conversation a tool runs in (the session's ``userdata``).

    ``user_id`` and ``participant`` are filled in when the user has joined; a tool called before
    that, or in ``console`` mode, finds them empty and says it cannot answer.
    """

    job_id: str
    user_id: int | None = None
    engine: Engine | None = None
    participant: rtc.RemoteParticipant | None = None

    @property
    def time_zone(self) -> str | None:
        """The user's browser time zone, as the page last reported it (None if it did not)."""
        if self.participant is None:
            return None
        return self.participant.attributes.get(TIME_ZONE_ATTRIBUTE) or None


def tool(*, running: str) -> Callable[[Callable[_P, Awaitable[str]]], llm.FunctionTool[_P, Awaitable[str]]]:
    """livekit-agents' ``function_tool``, remembering what the page says while the tool runs."""

    def declare(function: Callable[_P, Awaitable[str]]) -> llm.FunctionTool[_P, Awaitable[str]]:
        declared = function_tool(function)
        setattr(declared, _RUNNING, running)
        return declared

    return declare


def running_text(declared: llm.FunctionTool[..., Any]) -> str:
    """What the page shows while ``declared`` runs ("Looking through your past conversations…")."""
    return getattr(declared, _RUNNING, None) or f"Using {declared.info.name.replace('_', ' ')}…"
