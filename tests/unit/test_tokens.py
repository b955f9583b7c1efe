"""The claims a participant token carries are pinned here, field by field: identity, the one
room it joins, what it may do there, and the room configuration that dispatches the agent."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, datetime

import jwt
import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import given
from hypothesis import strategies as st
from livekit import api

from voice_app.auth.models import SignedInUser
from voice_app.rooms.names import ROOM_NAME_PATTERN
from voice_app.rooms.tokens import issue_participant_token, room_configuration
from voice_app.settings import Settings

SETTINGS = Settings(LIVEKIT_API_KEY="devkey", LIVEKIT_API_SECRET="secret-" + "x" * 40, AGENT_NAME="helper")


def signed_in_user(user_id: int, display_name: str) -> SignedInUser:
    return SignedInUser(
        id=user_id, email="a@example.com", display_name=display_name, created_at=datetime.now(UTC)
    )


def expected_claims(user: SignedInUser, room_name: str, settings: Settings, *, issued_at: int) -> dict:
    """Every claim of the token, written out as LiveKit reads it."""
    return {
        "name": user.display_name,
        "video": {
            "roomJoin": True,
            "room": room_name,
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": True,
            "canUpdateOwnMetadata": True,  # the page sets the browser's time zone as an attribute
        },
        "roomConfig": {
            "emptyTimeout": settings.ROOM_EMPTY_TIMEOUT_SECONDS,
            "maxParticipants": settings.ROOM_MAX_PARTICIPANTS,
            "metadata": json.dumps({"owner_id": user.id}),
            "agents": [
                {
                    "agentName": settings.AGENT_NAME,
                    "metadata": json.dumps({"display_name": user.display_name, "user_id": user.id}),
                }
            ],
        },
        "sub": str(user.id),
        "iss": settings.LIVEKIT_API_KEY,
        "nbf": issued_at,
        "exp": issued_at + settings.TOKEN_TTL_SECONDS,
    }


@given(
    user_id=st.integers(min_value=1, max_value=2**53),
    display_name=st.text(min_size=1, max_size=80),
    room_name=st.from_regex(ROOM_NAME_PATTERN, fullmatch=True),
)
def test_a_token_carries_exactly_the_users_identity_room_grants_and_agent_dispatch(
    user_id: int, display_name: str, room_name: str
) -> None:
    user = signed_in_user(user_id, display_name)

    grant = issue_participant_token(user=user, room_name=room_name, settings=SETTINGS)

    claims = jwt.decode(grant.token, SETTINGS.LIVEKIT_API_SECRET, algorithms=["HS256"])
    expected = expected_claims(user, room_name, SETTINGS, issued_at=claims["nbf"])
    # The SDK reads the clock once for nbf and again for exp, so a second may tick between them.
    assert claims["exp"] - expected.pop("exp") in (0, 1)
    assert {k: v for k, v in claims.items() if k != "exp"} == expected
    assert (grant.room, grant.identity, grant.server_url) == (
        room_name,
        str(user_id),
        SETTINGS.LIVEKIT_PUBLIC_URL,
    )
    assert grant.expires_at == datetime.fromtimestamp(claims["exp"], UTC)


def test_an_issued_token_verifies_with_livekits_verifier_and_expires_when_it_says() -> None:
    user = signed_in_user(7, "Ada")
    before = calendar.timegm(datetime.now(UTC).utctimetuple())

    grant = issue_participant_token(user=user, room_name="my-room", settings=SETTINGS)

    claims = api.TokenVerifier(SETTINGS.LIVEKIT_API_KEY, SETTINGS.LIVEKIT_API_SECRET).verify(grant.token)
    assert claims.identity == grant.identity == "7"
    assert claims.video is not None
    assert claims.video.room == "my-room"
    assert int(grant.expires_at.timestamp()) - before in range(
        SETTINGS.TOKEN_TTL_SECONDS, SETTINGS.TOKEN_TTL_SECONDS + 2
    )


def test_a_token_signed_with_another_secret_is_refused() -> None:
    grant = issue_participant_token(user=signed_in_user(7, "Ada"), room_name="my-room", settings=SETTINGS)

    verifier = api.TokenVerifier(SETTINGS.LIVEKIT_API_KEY, "another-secret-" + "y" * 40)
    with pytest.raises(jwt.InvalidSignatureError):
        verifier.verify(grant.token)


@given(
    user_id=st.integers(min_value=1, max_value=2**53),
    display_name=st.text(min_size=1, max_size=80),
)
def test_rooms_created_through_roomservice_get_the_configuration_tokens_carry(
    user_id: int, display_name: str
) -> None:
    user = signed_in_user(user_id, display_name)
    token = issue_participant_token(user=user, room_name="my-room", settings=SETTINGS).token

    carried = jwt.decode(token, SETTINGS.LIVEKIT_API_SECRET, algorithms=["HS256"])["roomConfig"]

    expected = expected_claims(user, "my-room", SETTINGS, issued_at=0)["roomConfig"]
    assert carried == MessageToDict(room_configuration(user=user, settings=SETTINGS)) == expected
