"""Everything the agent says that is not generated: its instructions, greeting and notices.

Kept in one place so the wording can be reviewed (and translated) without reading code. The
instructions and the greeting are the product's: a team sets them in `voice_app/app_settings.py`.
"""

from __future__ import annotations

from voice_app.app_settings import APP_SETTINGS, AppSettings

INSTRUCTIONS = APP_SETTINGS.agent_instructions
"""The system prompt of every conversation (set in `voice_app/app_settings.py`)."""


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


def greeting(display_name: str | None, settings: AppSettings = APP_SETTINGS) -> str:
    """The first thing the agent says, addressed to the user by name when it is known."""
    if display_name:
        return settings.agent_greeting.format(name=display_name)
    return settings.agent_greeting_without_name


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
