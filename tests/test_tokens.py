"""Tokens are signed without the SDK's claim builder (it was the slowest step of a token
request), so they must stay exactly what livekit's own ``AccessToken`` would sign."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import jwt
from hypothesis import given
from hypothesis import strategies as st
from livekit import api

from voice_app.auth.models import User
from voice_app.rooms.names import ROOM_NAME_PATTERN
from voice_app.rooms.tokens import issue_participant_token, participant_claims, room_configuration
from voice_app.settings import Settings

SETTINGS = Settings(LIVEKIT_API_KEY="devkey", LIVEKIT_API_SECRET="secret-" + "x" * 40, AGENT_NAME="helper")


def sdk_claims(user: User, room_name: str, settings: Settings) -> dict:
    """What livekit's AccessToken signs for the same user, room and settings."""
    token = (
        api.AccessToken(settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET)
        .with_identity(str(user.id))
        .with_name(user.display_name)
        .with_ttl(timedelta(seconds=settings.TOKEN_TTL_SECONDS))
        .with_grants(
            api.VideoGrants(
                room_join=True, room=room_name, can_publish=True, can_subscribe=True, can_publish_data=True
            )
        )
        .with_room_config(room_configuration(user=user, settings=settings))
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
    user = User(
        id=user_id,
        email="a@example.com",
        email_normalized="a@example.com",
        display_name=display_name,
        password_hash="",
    )
    expected = sdk_claims(user, room_name, SETTINGS)

    ours = participant_claims(user=user, room_name=room_name, settings=SETTINGS, now=expected["nbf"])

    assert ours == expected


def test_an_issued_token_verifies_and_expires_when_it_says() -> None:
    user = User(
        id=7, email="a@example.com", email_normalized="a@example.com", display_name="Ada", password_hash=""
    )
    before = calendar.timegm(datetime.now(UTC).utctimetuple())

    grant = issue_participant_token(user=user, room_name="my-room", settings=SETTINGS)

    claims = api.TokenVerifier(SETTINGS.LIVEKIT_API_KEY, SETTINGS.LIVEKIT_API_SECRET).verify(grant.token)
    assert claims.identity == grant.identity == "7"
    assert claims.video.room == "my-room"
    assert int(grant.expires_at.timestamp()) - before in range(
        SETTINGS.TOKEN_TTL_SECONDS, SETTINGS.TOKEN_TTL_SECONDS + 2
    )
