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

import base64
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import ParseDict
from livekit import api

from voice_app.auth.models import SignedInUser
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


def agent_dispatch_metadata(user: SignedInUser) -> str:
    """What the agent receives in its job: the user's display name and id."""
    return json.dumps({"display_name": user.display_name, "user_id": user.id})


def room_configuration_claim(*, user: SignedInUser, settings: Settings) -> dict[str, Any]:
    """The configuration every room of ``user`` gets, in the JSON form a token carries it in.

    The one definition: `room_configuration` parses it into the message RoomService takes.
    Written as JSON because every token request needs this form, and building and converting
    the message (``MessageToDict``) took about 5 % of such a request.
    """
    return {
        "emptyTimeout": settings.ROOM_EMPTY_TIMEOUT_SECONDS,
        "maxParticipants": settings.ROOM_MAX_PARTICIPANTS,
        "metadata": room_metadata(user),
        "agents": [{"agentName": settings.AGENT_NAME, "metadata": agent_dispatch_metadata(user)}],
    }


def room_configuration(*, user: SignedInUser, settings: Settings) -> api.RoomConfiguration:
    """The same configuration as a message, for RoomService's CreateRoom."""
    return ParseDict(room_configuration_claim(user=user, settings=settings), api.RoomConfiguration())


def participant_claims(*, user: SignedInUser, room_name: str, settings: Settings, now: int) -> dict[str, Any]:
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
            # the talk page sets the browser's time zone as a participant attribute (agent tools)
            "canUpdateOwnMetadata": True,
        },
        "roomConfig": room_configuration_claim(user=user, settings=settings),
        "sub": participant_identity(user),
        "iss": settings.LIVEKIT_API_KEY,
        "nbf": now,
        "exp": now + settings.TOKEN_TTL_SECONDS,
    }


def _base64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


_HS256_HEADER = _base64url(b'{"alg":"HS256","typ":"JWT"}')


def sign_hs256(claims: dict[str, Any], secret: str) -> str:
    """``claims`` as a compact HS256 JWT (RFC 7519), the form LiveKit verifies.

    The standard library's HMAC, not PyJWT: PyJWT re-checked the key for PEM and SSH markers
    and re-validated the claims on every call, which cost more than the HMAC. A test verifies
    issued tokens with the SDK's own verifier (PyJWT underneath).
    """
    payload = _base64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = _HS256_HEADER + b"." + payload
    signature = hmac.digest(secret.encode(), signing_input, "sha256")
    return (signing_input + b"." + _base64url(signature)).decode("ascii")


def issue_participant_token(*, user: SignedInUser, room_name: str, settings: Settings) -> TokenGrant:
    """Sign a token that lets ``user`` join ``room_name`` (and no other room) for the configured TTL.

    The caller must already have checked that ``user`` owns ``room_name``.
    """
    claims = participant_claims(user=user, room_name=room_name, settings=settings, now=int(time.time()))
    return TokenGrant(
        server_url=settings.LIVEKIT_PUBLIC_URL,
        room=room_name,
        identity=claims["sub"],
        token=sign_hs256(claims, settings.LIVEKIT_API_SECRET),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
