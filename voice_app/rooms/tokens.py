"""How a participant token for the signed-in user is made (with livekit's `AccessToken`).

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from livekit import api

from voice_app.auth.models import SignedInUser
from voice_app.protocol import AgentDispatchMetadata
from voice_app.settings import Settings


@dataclass(frozen=True)
class TokenGrant:
    """What a browser needs to join its room: where, as whom, and with which token until when."""

    server_url: str
    room: str
    identity: str
    token: str
    expires_at: datetime


def participant_identity(user: SignedInUser) -> str:
    """The user's LiveKit identity: their id, which never changes (display names can)."""
    return str(user.id)


def room_metadata(user: SignedInUser) -> str:
    """The room's metadata: who owns it (the database holds the authoritative record)."""
    return json.dumps({"owner_id": user.id})


def room_configuration(*, user: SignedInUser, settings: Settings) -> api.RoomConfiguration:
    """The configuration every room of ``user`` gets, in tokens and in RoomService's CreateRoom."""
    dispatch = AgentDispatchMetadata(display_name=user.display_name, user_id=user.id)
    return api.RoomConfiguration(
        empty_timeout=settings.ROOM_EMPTY_TIMEOUT_SECONDS,
        max_participants=settings.ROOM_MAX_PARTICIPANTS,
        metadata=room_metadata(user),
        agents=[api.RoomAgentDispatch(agent_name=settings.AGENT_NAME, metadata=dispatch.to_json())],
    )


def issue_participant_token(*, user: SignedInUser, room_name: str, settings: Settings) -> TokenGrant:
    """Sign a token that lets ``user`` join ``room_name`` (and no other room) for the configured TTL.

    The caller must already have checked that ``user`` owns ``room_name``.
    """
    identity = participant_identity(user)
    token = (
        api.AccessToken(settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET)
        .with_identity(identity)
        .with_name(user.display_name)
        .with_ttl(timedelta(seconds=settings.TOKEN_TTL_SECONDS))
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=room_name,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
                # the talk page sets the browser's time zone as a participant attribute (agent tools)
                can_update_own_metadata=True,
            )
        )
        .with_room_config(room_configuration(user=user, settings=settings))
        .to_jwt()
    )
    # The expiry the SDK wrote, read back so the browser is told exactly what LiveKit will enforce.
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    return TokenGrant(
        server_url=settings.LIVEKIT_PUBLIC_URL,
        room=room_name,
        identity=identity,
        token=token,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
    )
