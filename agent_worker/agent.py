"""The voice assistant itself: who it talks to, its instructions, and how it opens."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from livekit import rtc
from livekit.agents import Agent, ModelSettings, llm

from agent_worker import prompts

logger = logging.getLogger(__name__)

MAX_DISPLAY_NAME_LENGTH = 80
MAX_CONTEXT_ITEMS = 24
"""Conversation items (messages, tool calls) the LLM sees besides its instructions: spoken
replies are short, and a small local model's context (1,024 tokens per conversation) must hold them."""


@dataclass(frozen=True)
class DispatchMetadata:
    """What the backend put in the token's agent dispatch: ``{"display_name", "user_id"}``.

    ``resumed`` is set by the worker when it sends a new agent in place of a lost one
    (``agent_worker/recovery.py``).
    """

    display_name: str | None = None
    user_id: int | None = None
    resumed: bool = False

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
            resumed=data.get("resumed") is True,
        )


class VoiceAssistant(Agent):
    """The assistant the user talks to: short spoken answers, greets the user by name."""

    def __init__(
        self,
        *,
        greeting: str,
        greeting_audio: asyncio.Future[list[rtc.AudioFrame] | None] | None = None,
        chat_ctx: llm.ChatContext | None = None,
    ) -> None:
        super().__init__(instructions=prompts.INSTRUCTIONS, chat_ctx=chat_ctx)
        self._greeting = greeting
        self._greeting_audio = greeting_audio

    async def on_enter(self) -> None:
        """Greet as soon as the session starts: fixed words, their audio made ahead when possible."""
        frames = await self._greeting_audio if self._greeting_audio is not None else None
        if frames:
            self.session.say(self._greeting, audio=_replay(frames))
        else:
            self.session.say(self._greeting)

    async def llm_node(
        self, chat_ctx: llm.ChatContext, tools: list[llm.Tool], model_settings: ModelSettings
    ) -> AsyncIterable[llm.ChatChunk | str]:
        """Answer from a bounded context whose beginning stays put (see :func:`recent_context`)."""
        async for chunk in Agent.default.llm_node(self, recent_context(chat_ctx), tools, model_settings):
            yield chunk


def recent_context(chat_ctx: llm.ChatContext, *, keep: int = MAX_CONTEXT_ITEMS) -> llm.ChatContext:
    """The instructions and the latest turns, dropped in blocks of half of ``keep``.

    Cutting one old turn per reply would change the prompt's beginning every time, so an LLM server
    could never reuse what it already read (llama.cpp's prompt cache, OpenAI's prompt caching).
    Here the cut moves only every ``keep // 2`` items: between moves the prompt only grows.
    """
    items = chat_ctx.items
    leading = 0
    while leading < len(items) and getattr(items[leading], "role", None) in ("system", "developer"):
        leading += 1
    turns = items[leading:]
    if len(turns) <= keep:
        return chat_ctx
    block = max(keep // 2, 1)
    dropped = ((len(turns) - keep) // block + 1) * block
    trimmed = chat_ctx.copy()
    trimmed.items = [*items[:leading], *turns[dropped:]]
    return trimmed


async def _replay(frames: list[rtc.AudioFrame]) -> AsyncIterator[rtc.AudioFrame]:
    for frame in frames:
        yield frame
