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
