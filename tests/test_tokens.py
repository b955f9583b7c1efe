"""Tokens are built and signed without the SDK's claim builder or PyJWT (they were the slowest
steps of a token request), so they must stay exactly what livekit's own ``AccessToken`` would
sign, and the signature exactly PyJWT's."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from livekit import api

from voice_app.auth.models import SignedInUser
from voice_app.rooms.names import ROOM_NAME_PATTERN
from voice_app.rooms.tokens import (
    issue_participant_token,
    participant_claims,
    room_configuration,
    sign_hs256,
)
from voice_app.settings import Settings

SETTINGS = Settings(LIVEKIT_API_KEY="devkey", LIVEKIT_API_SECRET="secret-" + "x" * 40, AGENT_NAME="helper")


def signed_in_user(user_id: int, display_name: str) -> SignedInUser:
    return SignedInUser(
        id=user_id, email="a@example.com", display_name=display_name, created_at=datetime.now(UTC)
    )


def expected_room_configuration(user: SignedInUser, settings: Settings) -> api.RoomConfiguration:
    """The room configuration the rooms issue asks for, written out as the SDK's message."""
    return api.RoomConfiguration(
        empty_timeout=settings.ROOM_EMPTY_TIMEOUT_SECONDS,
        max_participants=settings.ROOM_MAX_PARTICIPANTS,
        metadata=json.dumps({"owner_id": user.id}),
        agents=[
            api.RoomAgentDispatch(
                agent_name=settings.AGENT_NAME,
                metadata=json.dumps({"display_name": user.display_name, "user_id": user.id}),
            )
        ],
    )


def sdk_claims(user: SignedInUser, room_name: str, settings: Settings) -> dict:
    """What livekit's AccessToken signs for the same user, room and settings."""
    token = (
        api.AccessToken(settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET)
        .with_identity(str(user.id))
        .with_name(user.display_name)
        .with_ttl(timedelta(seconds=settings.TOKEN_TTL_SECONDS))
        .with_grants(
            api.VideoGrants(
                room_join=True,
                room=room_name,
                can_publish=True,
                can_subscribe=True,
                can_publish_data=True,
                can_update_own_metadata=True,
            )
        )
        .with_room_config(expected_room_configuration(user, settings))
        .to_jwt()
    )
    return jwt.decode(token, settings.LIVEKIT_API_SECRET, algorithms=["HS256"])


@given(
    user_id=st.integers(min_value=1, max_value=2**53),
    display_name=st.text(min_size=1, max_size=80),
    room_name=st.from_regex(ROOM_NAME_PATTERN, fullmatch=True),
)
def test_our_claims_are_the_ones_livekits_access_token_signs(
    user_id: int, display_name: str, room_name: str
) -> None:
    user = signed_in_user(user_id, display_name)
    expected = sdk_claims(user, room_name, SETTINGS)

    ours = participant_claims(user=user, room_name=room_name, settings=SETTINGS, now=expected["nbf"])

    assert ours == expected


def test_an_issued_token_verifies_and_expires_when_it_says() -> None:
    user = signed_in_user(7, "Ada")
    before = calendar.timegm(datetime.now(UTC).utctimetuple())

    grant = issue_participant_token(user=user, room_name="my-room", settings=SETTINGS)

    claims = api.TokenVerifier(SETTINGS.LIVEKIT_API_KEY, SETTINGS.LIVEKIT_API_SECRET).verify(grant.token)
    assert claims.identity == grant.identity == "7"
    assert claims.video.room == "my-room"
    assert int(grant.expires_at.timestamp()) - before in range(
        SETTINGS.TOKEN_TTL_SECONDS, SETTINGS.TOKEN_TTL_SECONDS + 2
    )


@given(
    user_id=st.integers(min_value=1, max_value=2**53),
    display_name=st.text(min_size=1, max_size=80),
)
def test_rooms_created_through_roomservice_get_the_configuration_tokens_carry(
    user_id: int, display_name: str
) -> None:
    user = signed_in_user(user_id, display_name)

    assert room_configuration(user=user, settings=SETTINGS) == expected_room_configuration(user, SETTINGS)


REGISTERED_CLAIMS = {"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}


@given(
    claims=st.dictionaries(
        # Registered claim names are left out: PyJWT checks their types before signing.
        st.text(max_size=12).filter(lambda name: name not in REGISTERED_CLAIMS),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=40),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
            ),
            max_leaves=12,
        ),
        max_size=8,
    ),
    secret=st.text(min_size=1, max_size=64),
)
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # short secrets are fine here
def test_our_signature_is_byte_for_byte_pyjwts(claims: dict, secret: str) -> None:
    assert sign_hs256(claims, secret) == jwt.encode(claims, secret, algorithm="HS256")
