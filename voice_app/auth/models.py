"""Account tables: users and their login sessions.

`UserBase -> User(table) / UserPublic` keeps the password hash out of every response model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import WithJsonSchema
from sqlmodel import Field, SQLModel

from voice_app.auth.validation import (
    COMMON_PASSWORDS,
    DISPLAY_NAME_MAX_CHARS,
    EMAIL_MAX_CHARS,
    PASSWORD_MAX_CHARS,
    PASSWORD_MIN_CHARS,
    DisplayName,
    EmailAddress,
    LoginEmail,
    LoginPassword,
    NewPassword,
)


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
    memory_enabled: bool = False
    """The agent starts each conversation knowing a summary of the recent ones (settings page)."""
    push_to_talk: bool = False
    """The agent hears the user only while they hold the talk button (settings page)."""


class UserPublic(UserBase):
    """A user as the API returns it."""

    id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """Who a live session belongs to: a read-only copy of the account's public columns.

    Every signed-in request resolves one, so it is a plain frozen value rather than a table
    model: building a `User` went through SQLModel's validation and SQLAlchemy's
    instrumentation and cost as much as the query that found it. To change the account,
    load the `User` with ``session.get(User, signed_in.id)``.
    """

    id: int
    email: str
    display_name: str
    created_at: datetime


class LoginSession(SQLModel, table=True):
    """A signed-in session. Only the SHA-256 of the bearer token is stored."""

    __tablename__ = "login_session"  # pyright: ignore[reportAssignmentType] - SQLModel declares a declared_attr

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utc_now)
    last_seen_at: datetime = Field(default_factory=utc_now)
    expires_at: datetime
    revoked_at: datetime | None = None


# The rules of `validation.py` written as JSON Schema, for the API docs and for clients that
# generate requests from them (tests/test_api_schema.py checks that the two agree). The schemas
# only document: `validation.py` enforces, so every message keeps its words. What a schema cannot
# say (an email's exact shape, lengths after Unicode normalisation) is left to those checks.
# Character classes: control characters, which no field may hold (Unicode Cc, Zl, Zp); what
# `str.strip()` trims from emails and names; and the trimmed characters that are not controls.
_CONTROL = r"\u0000-\u001f\u007f-\u009f\u2028\u2029"
_SPACE = r"\t-\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_VISIBLE_SPACE = r" \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"


def _any_case_one_of(words: Iterable[str]) -> str:
    """A pattern matching exactly one of ``words`` in any letter case (JSON Schema has no flags)."""

    def any_case(word: str) -> str:
        return "".join(
            f"[{char.lower()}{char.upper()}]" if char.isalpha() else re.escape(char) for char in word
        )

    return "^(?:" + "|".join(any_case(word) for word in sorted(words)) + ")$"


_EMAIL_SCHEMA = {
    "type": "string",
    "format": "email",
    "maxLength": EMAIL_MAX_CHARS,
    "description": "Surrounding spaces are trimmed; letter case does not make a different account.",
}
_DISPLAY_NAME_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": DISPLAY_NAME_MAX_CHARS,
    "pattern": f"^[^{_CONTROL}]*[^{_CONTROL}{_VISIBLE_SPACE}][^{_CONTROL}]*$",
    "description": "Any script and emoji; no line breaks or control characters.",
}
_NEW_PASSWORD_SCHEMA = {
    "type": "string",
    "minLength": PASSWORD_MIN_CHARS,
    "maxLength": PASSWORD_MAX_CHARS,
    "pattern": f"^[^{_CONTROL}]*$",
    "not": {"pattern": _any_case_one_of(COMMON_PASSWORDS)},
    "description": "Any Unicode, no composition rules; the most common passwords are refused.",
}
_LOGIN_EMAIL_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": EMAIL_MAX_CHARS,
    "pattern": f"[^{_SPACE}]",
}
_LOGIN_PASSWORD_SCHEMA = {"type": "string", "minLength": 1, "maxLength": PASSWORD_MAX_CHARS}


class UserRegister(SQLModel):
    """What a new user sends to sign up (validated by the rules in ``validation.py``)."""

    model_config = {"extra": "forbid"}

    email: Annotated[EmailAddress, WithJsonSchema(_EMAIL_SCHEMA)]
    display_name: Annotated[DisplayName, WithJsonSchema(_DISPLAY_NAME_SCHEMA)]
    password: Annotated[NewPassword, WithJsonSchema(_NEW_PASSWORD_SCHEMA)]


class UserLogin(SQLModel):
    """What a user sends to sign in. Only lengths are checked: anything else is a wrong password."""

    model_config = {"extra": "forbid"}

    email: Annotated[LoginEmail, WithJsonSchema(_LOGIN_EMAIL_SCHEMA)]
    password: Annotated[LoginPassword, WithJsonSchema(_LOGIN_PASSWORD_SCHEMA)]


class LoginResult(SQLModel):
    """A fresh session: send ``token`` as ``Authorization: Bearer <token>``.

    The session ends at ``expires_at`` at the latest, or earlier after ``idle_timeout_seconds``
    without a request.
    """

    token: str
    expires_at: datetime
    idle_timeout_seconds: int
    user: UserPublic
