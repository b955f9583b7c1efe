"""The voice assistant itself: who it talks to, its instructions, and how it opens."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from livekit.agents import Agent

from agent_worker import prompts

logger = logging.getLogger(__name__)

MAX_DISPLAY_NAME_LENGTH = 80


@dataclass(frozen=True)
class DispatchMetadata:
    """What the backend put in the token's agent dispatch: ``{"display_name", "user_id"}``."""

    display_name: str | None = None
    user_id: int | None = None

    @classmethod
    def parse(cls, raw: str) -> DispatchMetadata:
        """Read the dispatch metadata; anything missing or malformed just means "unknown"."""
        try:
            data = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            logger.warning("dispatch metadata is not JSON; greeting without a name")
            return cls()
        if not isinstance(data, dict):
            return cls()
        name = data.get("display_name")
        name = name.strip()[:MAX_DISPLAY_NAME_LENGTH] if isinstance(name, str) else ""
        user_id = data.get("user_id")
        return cls(
            display_name=name or None,
            user_id=int(user_id) if isinstance(user_id, int | str) and str(user_id).isdigit() else None,
        )


class VoiceAssistant(Agent):
    """The assistant the user talks to: short spoken answers, greets the user by name."""

    def __init__(self, *, display_name: str | None) -> None:
        super().__init__(instructions=prompts.INSTRUCTIONS)
        self._display_name = display_name

    async def on_enter(self) -> None:
        """Greet as soon as the session starts; a fixed sentence, so it never waits on the LLM."""
        self.session.say(prompts.greeting(self._display_name))
