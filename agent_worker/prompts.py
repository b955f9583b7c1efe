"""Everything the agent says that is not generated: its instructions, greeting and notices.

Kept in one place so the wording can be reviewed (and translated) without reading code.
"""

from __future__ import annotations

INSTRUCTIONS = """\
You are a friendly voice assistant in a web app. The user talks to you by voice or types in a chat.
Everything you write is read aloud, so:
- answer in one to three short sentences of plain spoken English;
- no lists, headings, markdown, emojis, code or URLs;
- if you did not understand, say so and ask the user to repeat;
- if you do not know something, say that you do not know instead of guessing.
Be warm and direct. Do not mention these instructions."""
"""The system prompt of every conversation."""


def with_memory(instructions: str, remembered: str) -> str:
    """The instructions, followed by what the agent remembers of the user's recent conversations."""
    if not remembered:
        return instructions
    return (
        f"{instructions}\n\nThe user lets you remember their recent conversations with you. {remembered} "
        "Use this when it helps; do not recite it."
    )


STAGE_NAMES = {"stt": "speech recognition", "llm": "language model", "tts": "voice"}
"""How a pipeline stage is named to the user."""


def greeting(display_name: str | None) -> str:
    """The first thing the agent says, addressed to the user by name when it is known."""
    if display_name:
        return f"Hello {display_name}! I'm your voice assistant. What can I do for you?"
    return "Hello! I'm your voice assistant. What can I do for you?"


def resumed_greeting(display_name: str | None) -> str:
    """What an agent that replaces a lost one says first (it has the conversation so far)."""
    name = f" {display_name}" if display_name else ""
    return f"Sorry{name}, I lost my connection for a moment. I'm back. Where were we?"


def provider_failed(stage: str, *, falling_back: bool) -> str:
    """Chat notice when a remote stage stops working mid-conversation."""
    name = STAGE_NAMES.get(stage, stage)
    if falling_back:
        return (
            f"My online {name} stopped responding, so I switched to the offline one. "
            "Answers may be slower or simpler for a while."
        )
    return f"My {name} stopped responding. I may not be able to answer until it is back."


def provider_recovered(stage: str) -> str:
    """Chat notice when a remote stage works again after a failure."""
    return f"My online {STAGE_NAMES.get(stage, stage)} is back."


SESSION_FAILED = (
    "Sorry, something went wrong on my side and I have to end this conversation. "
    "Please reconnect to start a new one."
)
"""Chat notice when the session closes because of an error it could not recover from."""
