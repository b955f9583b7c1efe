"""The voice assistant itself: who it talks to, its instructions, and how it opens."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Sequence

from livekit import rtc
from livekit.agents import NOT_GIVEN, Agent, ModelSettings, llm
from livekit.agents.types import FlushSentinel

from agent_worker import prompts

logger = logging.getLogger(__name__)

MAX_CONTEXT_ITEMS = 24
"""Conversation items (messages, tool calls) the LLM sees besides its instructions: spoken
replies are short, and a small local model's context (1,024 tokens per conversation) must hold them."""


class VoiceAssistant(Agent):
    """The assistant the user talks to: short spoken answers, greets the user by name.

    ``remembered``: a summary of the user's recent conversations (memory on), added to the
    instructions. ``push_to_talk``: turns end when the user releases the talk button.
    """

    def __init__(
        self,
        *,
        greeting: str,
        greeting_audio: asyncio.Future[list[rtc.AudioFrame] | None] | None = None,
        tools: Sequence[llm.Tool] | None = None,
        remembered: str = "",
        push_to_talk: bool = False,
        chat_ctx: llm.ChatContext | None = None,
    ) -> None:
        super().__init__(
            instructions=prompts.with_memory(prompts.INSTRUCTIONS, remembered),
            tools=list(tools or []),
            chat_ctx=chat_ctx,
            # push-to-talk: the user's release ends the turn (see agent_worker/push_to_talk.py)
            turn_handling={"turn_detection": "manual"} if push_to_talk else NOT_GIVEN,
        )
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
    ) -> AsyncIterable[llm.ChatChunk | str | FlushSentinel]:
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
