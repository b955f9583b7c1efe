"""How a participant token for the signed-in user is made.

Everything in the token comes from the settings and the signed-in user, never from the
request: identity is the user's stable id, the grant joins exactly one room, and the room
configuration dispatches the agent with the user's display name so it can greet them.

The same `room_configuration` is sent when the backend creates the room through RoomService,
because LiveKit applies a room configuration only when it creates the room: a room created
without the agent dispatch would ignore the token's, and a room LiveKit closed after its
empty timeout is re-created on join from the token's, with the same settings.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from google.protobuf.json_format import MessageToDict
from livekit import api

from voice_app.auth.models import User
from voice_app.settings import Settings


@dataclass(frozen=True)
class TokenGrant:
    """What a browser needs to join its room: where, as whom, and with which token until when."""

    server_url: str
    room: str
    identity: str
    token: str
    expires_at: datetime


def participant_identity(user: User) -> str:
    """The user's LiveKit identity: their id, which never changes (display names can)."""
    return str(user.id)


def room_metadata(user: User) -> str:
    """The room's metadata: who owns it (the database holds the authoritative record)."""
    return json.dumps({"owner_id": user.id})


def agent_dispatch_metadata(user: User) -> str:
    """What the agent receives in its job: the user's display name and id."""
    return json.dumps({"display_name": user.display_name, "user_id": user.id})


def room_configuration(*, user: User, settings: Settings) -> api.RoomConfiguration:
    """The configuration every room of ``user`` gets, whoever creates it (RoomService or a join)."""
    return api.RoomConfiguration(
        empty_timeout=settings.ROOM_EMPTY_TIMEOUT_SECONDS,
        max_participants=settings.ROOM_MAX_PARTICIPANTS,
        metadata=room_metadata(user),
        agents=[
            api.RoomAgentDispatch(agent_name=settings.AGENT_NAME, metadata=agent_dispatch_metadata(user))
        ],
    )


def participant_claims(*, user: User, room_name: str, settings: Settings, now: int) -> dict[str, Any]:
    """The token's claims as livekit's ``AccessToken`` writes them, issued at ``now`` (epoch s).

    A test holds the two equal.
    Built directly because this runs on every token request: the SDK turns its claim dataclasses
    into a dict with a deep ``dataclasses.asdict`` that cost more than the signature itself.
    """
    return {
        "name": user.display_name,
        "video": {
            "roomJoin": True,
            "room": room_name,
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": True,
        },
        "roomConfig": MessageToDict(room_configuration(user=user, settings=settings)),
        "sub": participant_identity(user),
        "iss": settings.LIVEKIT_API_KEY,
        "nbf": now,
        "exp": now + settings.TOKEN_TTL_SECONDS,
    }


def issue_participant_token(*, user: User, room_name: str, settings: Settings) -> TokenGrant:
    """Sign a token that lets ``user`` join ``room_name`` (and no other room) for the configured TTL.

    The caller must already have checked that ``user`` owns ``room_name``.
    """
    claims = participant_claims(user=user, room_name=room_name, settings=settings, now=int(time.time()))
    return TokenGrant(
        server_url=settings.LIVEKIT_PUBLIC_URL,
        room=room_name,
        identity=claims["sub"],
        token=jwt.encode(claims, settings.LIVEKIT_API_SECRET, algorithm="HS256"),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
