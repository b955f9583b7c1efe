"""What a room name may be, and how the server makes one when the caller gives none.

Names travel in URLs, LiveKit signalling and log fields, so they are kept to a small,
unambiguous alphabet. The same rule is declared on the API's request models (so the OpenAPI
schema shows it) and checked again here for callers that do not go through the API, such as
the talk page's event handler.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from pydantic import StringConstraints

ROOM_NAME_MAX_LENGTH = 64
ROOM_NAME_PATTERN = rf"^[A-Za-z0-9_-]{{1,{ROOM_NAME_MAX_LENGTH}}}$"
_ROOM_NAME = re.compile(ROOM_NAME_PATTERN)

RoomName = Annotated[
    str, StringConstraints(min_length=1, max_length=ROOM_NAME_MAX_LENGTH, pattern=ROOM_NAME_PATTERN)
]
"""A room name as request models declare it: letters, digits, `_` and `-`, 1 to 64 characters."""


class InvalidRoomName(ValueError):
    """The room name is empty, too long, or has characters outside ``[A-Za-z0-9_-]``."""


def validate_room_name(name: object) -> str:
    """Return ``name`` unchanged when it is a valid room name, else raise `InvalidRoomName`."""
    # fullmatch, not match: "$" would accept a trailing newline.
    if not isinstance(name, str) or not _ROOM_NAME.fullmatch(name):
        raise InvalidRoomName(f"A room name is 1 to {ROOM_NAME_MAX_LENGTH} letters, digits, '_' or '-'.")
    return name


def generate_room_name(user_id: int) -> str:
    """A fresh, unguessable room name for ``user_id``, such as ``talk-42-9f1c03ab5e7d``."""
    return f"talk-{user_id}-{secrets.token_hex(6)}"
