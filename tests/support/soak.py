"""Conversations started and ended back to back, and what the database kept of them.

Shared by the short soak in the suite (`tests/test_soak.py`) and the long one in
`bench/soak.py`. Each conversation is a new user who joins, hears the greeting, types a few
questions one after another (each answered in voice and text before the next), and leaves. The
client keeps what it said and what it heard; once the worker has ended the conversation, the
stored messages are compared with that.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx

from tests.factories import sign_in
from tests.support.backend import Backend
from tests.support.voice_client import VoiceClient
from tests.test_agent_worker import stored_conversations

WAIT_SECONDS = 60.0
QUESTIONS = (
    "What is a good name for a cat?",
    "Tell me one fact about the moon.",
    "Say something kind.",
)


@dataclass
class SoakConversation:
    """One conversation as its user saw it."""

    number: int
    user_id: int
    asked: list[str] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    """The agent's finished transcripts: the greeting and one answer (or more) per question."""
    first_audio_seconds: list[float] = field(default_factory=list)
    """Per question: from sending it to the answer's first audible frame."""
    started_at: float = 0.0


async def one_conversation(
    api: httpx.Client, number: int, questions: tuple[str, ...] = QUESTIONS
) -> SoakConversation:
    """A new user's whole conversation; raises AssertionError if any step does not happen."""
    user = await asyncio.to_thread(sign_in, api, display_name=f"Soak {number}")
    record = SoakConversation(number=number, user_id=user.user_id, started_at=time.monotonic())
    client = await VoiceClient.join(api, user)
    try:
        await client.wait_for("the greeting", lambda: client.agent_transcripts(), WAIT_SECONDS)
        await _agent_listening(client)
        for question in questions:
            record.asked.append(question)
            record.first_audio_seconds.append(await _ask(client, question))
    finally:
        record.heard = [t.text for t in client.agent_transcripts()]
        await client.close()
    return record


async def _ask(client: VoiceClient, question: str) -> float:
    """Type ``question``; wait for the answer's voice, its text and the agent listening again.

    Returns the seconds from sending to the answer's first audible frame.
    """
    sent = await client.send_chat(question)
    await client.wait_for(f"an answer to {question!r}", lambda: client.loud_frames(after=sent), WAIT_SECONDS)
    first_audio = client.loud_frames(after=sent)[0].received_at
    await client.wait_for(
        f"the text of the answer to {question!r}", lambda: client.agent_transcripts(after=sent), WAIT_SECONDS
    )
    await _agent_listening(client)
    return first_audio - sent


async def _agent_listening(client: VoiceClient) -> None:
    """Wait until the agent has finished speaking, so what it said is whole (and stored whole)."""
    await client.wait_for(
        "the agent listening", lambda: client.agent_states[-1][1] == "listening", WAIT_SECONDS
    )


async def back_to_back(api: httpx.Client, *, seconds: float, lanes: int) -> list[SoakConversation]:
    """``lanes`` users at a time, each lane starting a new conversation as soon as one ends."""
    deadline = time.monotonic() + seconds
    done: list[SoakConversation] = []
    numbers = iter(range(1_000_000))

    async def lane() -> None:
        while time.monotonic() < deadline:
            done.append(await one_conversation(api, next(numbers)))

    await asyncio.gather(*(lane() for _ in range(lanes)))
    return sorted(done, key=lambda c: c.number)


def error_lines(log: str, conversations: list[SoakConversation] | None = None) -> list[str]:
    """Lines logged at ERROR or above, or tracebacks (dev logs colour the level name).

    With ``conversations``, only the lines about their rooms (``talk-<user id>-…``): a worker
    shared with earlier tests may still be closing one of theirs.
    """
    errors = [
        line for line in log.splitlines() if "ERROR" in line or "CRITICAL" in line or "Traceback" in line
    ]
    if conversations is None:
        return errors
    rooms = tuple(f'"room": "talk-{c.user_id}-' for c in conversations)
    return [line for line in errors if any(room in line for room in rooms)]


@dataclass(frozen=True)
class LostMessages:
    """Messages a user said or heard that the database does not hold (or holds differently)."""

    conversation: int
    missing: list[tuple[str, str]]
    unexpected: list[tuple[str, str]]


async def lost_messages(backend: Backend, conversations: list[SoakConversation]) -> list[LostMessages]:
    """Compare each conversation's stored messages with what its user said and heard.

    Waits (up to a minute) for the worker to have ended each conversation, i.e. written it all.
    """
    losses = []
    for conversation in conversations:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            stored = await asyncio.to_thread(stored_conversations, backend, conversation.user_id)
            if (stored and stored[-1][0].ended_at is not None) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        kept = sorted((m.role, m.text) for _conversation, messages in stored for m in messages)
        said = sorted(
            [("user", text) for text in conversation.asked] + [("agent", text) for text in conversation.heard]
        )
        missing = _minus(said, kept)
        unexpected = _minus(kept, said)
        if missing or unexpected:
            losses.append(LostMessages(conversation.number, missing, unexpected))
    return losses


def _minus(items: list[tuple[str, str]], other: list[tuple[str, str]]) -> list[tuple[str, str]]:
    remaining = list(other)
    left = []
    for item in items:
        if item in remaining:
            remaining.remove(item)
        else:
            left.append(item)
    return left
