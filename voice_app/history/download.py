"""A saved conversation as a file the user keeps: Markdown to read, JSON for programs.

Both hold the whole transcript in the order it was said, with who said it, whether it was
spoken or typed, and when (UTC, ISO 8601).
"""

from __future__ import annotations

import json
from typing import Literal

from voice_app.history.service import ConversationTranscript

DownloadFormat = Literal["markdown", "json"]

MEDIA_TYPES: dict[DownloadFormat, str] = {
    "markdown": "text/markdown; charset=utf-8",
    "json": "application/json",
}
_EXTENSIONS: dict[DownloadFormat, str] = {"markdown": "md", "json": "json"}
_SPEAKERS = {"user": "You", "agent": "Agent"}


def download_filename(transcript: ConversationTranscript, file_format: DownloadFormat) -> str:
    """``conversation-12-2026-03-01.md``: the id keeps names unique, the date makes them readable."""
    conversation = transcript.conversation
    return f"conversation-{conversation.id}-{conversation.started_at:%Y-%m-%d}.{_EXTENSIONS[file_format]}"


def as_json(transcript: ConversationTranscript) -> str:
    """The conversation and every message as a JSON document."""
    conversation = transcript.conversation
    document = {
        "id": conversation.id,
        "room": conversation.room_name,
        "started_at": conversation.started_at.isoformat(),
        "ended_at": conversation.ended_at.isoformat() if conversation.ended_at else None,
        "messages": [
            {
                "role": message.role,
                "source": message.source,
                "text": message.text,
                "created_at": message.created_at.isoformat(),
            }
            for message in transcript.messages
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _quoted(text: str) -> str:
    """``text`` as a Markdown block quote, so whatever the user said cannot become markup."""
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def as_markdown(transcript: ConversationTranscript) -> str:
    """A heading, when it started and ended, then each message under its speaker and time."""
    conversation = transcript.conversation
    ended = conversation.ended_at.strftime("%Y-%m-%d %H:%M:%S UTC") if conversation.ended_at else "still open"
    lines = [
        f"# Conversation of {conversation.started_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"- Started: {conversation.started_at:%Y-%m-%d %H:%M:%S} UTC",
        f"- Ended: {ended}",
        f"- Messages: {len(transcript.messages)}",
        "",
    ]
    for message in transcript.messages:
        typed = " (typed)" if message.source == "typed" else ""
        lines += [
            f"**{_SPEAKERS.get(message.role, message.role)}**{typed}, {message.created_at:%H:%M:%S}:",
            "",
            _quoted(message.text),
            "",
        ]
    return "\n".join(lines)


def render(transcript: ConversationTranscript, file_format: DownloadFormat) -> str:
    """The conversation in ``file_format``."""
    return as_json(transcript) if file_format == "json" else as_markdown(transcript)
