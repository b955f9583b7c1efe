"""Fit a conversation into one llama-server slot's context by dropping its oldest turns.

Clients send the whole conversation every turn, and llama-server refuses a prompt longer than a
slot's context (400 ``exceed_context_size_error``). Old turns are dropped in blocks of about half
the room, cut where the turns' sizes counted from the start of the conversation pass a multiple
of that half: as the conversation grows, the cut stays put until the room is full again, so the
prompt keeps the same beginning turn after turn and llama-server reuses the slot's cache
(dropping one turn per reply would make it read the whole prompt again every time).
"""

from __future__ import annotations

import json

from agent_worker.inference.json_values import JsonObject, is_json_array, is_json_object

MESSAGE_OVERHEAD_TOKENS = 6
"""What the chat template adds around each message (`<|im_start|>role` ... `<|im_end|>`)."""
REPLY_OVERHEAD_TOKENS = 4
"""The template's opening of the reply (`<|im_start|>assistant`)."""

Message = JsonObject


def message_text(message: Message) -> str:
    """The text of a chat message that the model reads: its content, and its tool calls if any."""
    content = message.get("content")
    if is_json_array(content):
        text = "".join(part.get("text", "") for part in content if is_json_object(part))
    else:
        text = content if isinstance(content, str) else ""
    if message.get("tool_calls"):
        text += json.dumps(message["tool_calls"])
    return text


def fit_to_context(messages: list[Message], sizes: list[int], budget: int) -> list[Message]:
    """``messages`` without the oldest turns, so their ``sizes`` (tokens) add up to at most ``budget``.

    A leading system message and the latest message are always kept; a tool result is never
    kept without the call before it.
    """
    first_turn = 1 if messages and messages[0].get("role") in ("system", "developer") else 0
    last = len(messages) - 1
    block = max(budget // 2, 1)
    total, dropped, cut, blocks = sum(sizes), 0, first_turn, 0
    while total - dropped > budget and cut < last:
        blocks += 1
        while dropped < blocks * block and cut < last:
            dropped += sizes[cut]
            cut += 1
    while cut < last and messages[cut].get("role") == "tool":
        cut += 1
    return messages[:first_turn] + messages[cut:]
