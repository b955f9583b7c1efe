"""Fresh users for tests, made through the real API (`POST /api/auth/register` and `/login`).

Every call makes a new account with a unique email, so tests never share a user.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import httpx

DEFAULT_PASSWORD = "correct horse battery staple"


def random_email() -> str:
    """A unique, valid email address."""
    return f"user-{secrets.token_hex(6)}@example.com"


def register_user(
    api: httpx.Client,
    *,
    email: str | None = None,
    password: str | None = None,
    display_name: str | None = None,
) -> dict:
    """Register a user through the API and return its public JSON (`id`, `email`, ...).

    Fails the calling test with the server's answer when registration is refused.
    """
    body = {
        "email": email or random_email(),
        "password": password or DEFAULT_PASSWORD,
        "display_name": display_name or "Test User",
    }
    response = api.post("/api/auth/register", json=body)
    assert response.status_code == 201, f"registration failed: {response.status_code} {response.text}"
    return response.json()


@dataclass(frozen=True)
class SignedInUser:
    """A registered user with a live session token."""

    email: str
    password: str
    display_name: str
    user_id: int
    token: str
    headers: dict[str, str] = field(default_factory=dict)


def sign_in(
    api: httpx.Client,
    *,
    email: str | None = None,
    password: str | None = None,
    display_name: str | None = None,
) -> SignedInUser:
    """Register a fresh user and log in; ``headers`` carries the bearer token for API calls."""
    email = email or random_email()
    password = password or DEFAULT_PASSWORD
    display_name = display_name or "Test User"
    user = register_user(api, email=email, password=password, display_name=display_name)
    response = api.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, f"login failed: {response.status_code} {response.text}"
    token = response.json()["token"]
    return SignedInUser(
        email=email,
        password=password,
        display_name=display_name,
        user_id=user["id"],
        token=token,
        headers={"Authorization": f"Bearer {token}"},
    )


def store_conversation(
    database_url: str, user_id: int, lines: list[tuple[str, str, str]], *, minutes_ago: float = 60
) -> int:
    """A conversation written as the agent worker writes it; ``lines`` are (role, source, text),
    5 s apart. Returns its id."""
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session

    from voice_app.db import make_engine
    from voice_app.history.models import Conversation, ConversationMessage

    started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with Session(make_engine(database_url)) as db:
        conversation = Conversation(
            user_id=user_id,
            room_name=f"talk-{user_id}-{secrets.token_hex(4)}",
            agent_job_id=f"AJ_{secrets.token_hex(6)}",
            started_at=started,
            ended_at=started + timedelta(seconds=5 * len(lines) + 3),
        )
        db.add(conversation)
        db.commit()
        for index, (role, source, text) in enumerate(lines):
            db.add(
                ConversationMessage(
                    conversation_id=conversation.id,
                    role=role,
                    source=source,
                    text=text,
                    created_at=started + timedelta(seconds=5 * index),
                )
            )
        db.commit()
        assert conversation.id is not None
        return conversation.id
