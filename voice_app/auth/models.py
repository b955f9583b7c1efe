"""Account tables: users and their login sessions.

`UserBase -> User(table) / UserPublic` keeps the password hash out of every response model.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ConfigDict
from sqlmodel import Field, SQLModel

from voice_app.auth.validation import DisplayName, EmailAddress, LoginEmail, LoginPassword, NewPassword


def utc_now() -> datetime:
    """Timezone-aware now, the only clock the app's tables use."""
    return datetime.now(UTC)


class UserBase(SQLModel):
    """Fields a user may see about themselves."""

    email: str = Field(max_length=254)
    display_name: str = Field(max_length=80)


class User(UserBase, table=True):
    """An account. ``email_normalized`` (lower-cased) is what uniqueness is checked on."""

    id: int | None = Field(default=None, primary_key=True)
    email_normalized: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utc_now)


class UserPublic(UserBase):
    """A user as the API returns it."""

    id: int
    created_at: datetime


class LoginSession(SQLModel, table=True):
    """A signed-in session. Only the SHA-256 of the bearer token is stored."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utc_now)
    last_seen_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime
    revoked_at: datetime | None = None


class UserRegister(SQLModel):
    """What a new user sends to sign up (validated by the rules in ``validation.py``)."""

    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    display_name: DisplayName
    password: NewPassword


class UserLogin(SQLModel):
    """What a user sends to sign in. Only lengths are checked: anything else is a wrong password."""

    model_config = ConfigDict(extra="forbid")

    email: LoginEmail
    password: LoginPassword


class LoginResult(SQLModel):
    """A fresh session: send ``token`` as ``Authorization: Bearer <token>``.

    The session ends at ``expires_at`` at the latest, or earlier after ``idle_timeout_seconds``
    without a request.
    """

    token: str
    expires_at: datetime
    idle_timeout_seconds: int
    user: UserPublic
