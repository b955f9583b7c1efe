"""Accounts and login sessions: the one place the API routes and the Reflex pages both call.

Every function takes keyword arguments: a database ``session``, or, for the two that hash
passwords, the `Database`, so no connection is held while hashing. Failures are the named
exceptions below, which each caller maps to a status code or a sentence in one place.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import sqlalchemy
from sqlalchemy import bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from voice_app.auth.models import LoginSession, SignedInUser, User, UserRegister, utc_now
from voice_app.auth.security import hash_password, verify_password
from voice_app.auth.throttle import LoginThrottle
from voice_app.auth.tokens import hash_session_token, new_session_token
from voice_app.auth.validation import normalize_email, normalize_password
from voice_app.db import Database
from voice_app.settings import Settings

logger = logging.getLogger(__name__)

INVALID_CREDENTIALS_MESSAGE = "That email and password do not match an account."


class EmailTaken(Exception):
    """An account with this email (compared case-insensitively) already exists."""


class InvalidCredentials(Exception):
    """Unknown email or wrong password; deliberately the same exception for both."""


class TooManyAttempts(Exception):
    """Too many failed logins for this account or client address; try again later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class SessionInvalid(Exception):
    """The token is unknown, expired (idle or absolute) or was signed out."""


@dataclass(frozen=True)
class IssuedSession:
    """A new login session; ``token`` is shown to the client once and never stored."""

    token: str
    expires_at: datetime
    idle_timeout: timedelta


async def register_user(*, db: Database, registration: UserRegister) -> User:
    """Create an account from validated input; raise :class:`EmailTaken` if the email is in use."""
    email_normalized = normalize_email(registration.email)
    # Hash before touching the database, so no pooled connection is held while hashing.
    password_hash = await hash_password(registration.password)
    user = User(
        email=registration.email,
        email_normalized=email_normalized,
        display_name=registration.display_name,
        password_hash=password_hash,
    )
    user = await db.run(partial(_insert_user, user=user))
    logger.info("User registered", extra={"user_id": user.id})
    return user


def _insert_user(session: Session, *, user: User) -> User:
    taken = session.exec(select(User.id).where(User.email_normalized == user.email_normalized)).first()
    if taken is not None:
        raise EmailTaken
    session.add(user)
    try:
        session.commit()
    except IntegrityError as error:  # a concurrent sign-up with the same email won the race
        session.rollback()
        raise EmailTaken from error
    session.refresh(user)
    return user


async def authenticate(
    *, db: Database, email: str, password: str, client_address: str, throttle: LoginThrottle
) -> User:
    """Return the user whose email and password these are.

    Raises :class:`TooManyAttempts` (nothing checked) while this email or address must wait,
    and :class:`InvalidCredentials` for an unknown email or a wrong password alike: an unknown
    email is checked against a dummy hash so both take the same time. A hash made with older
    argon2 parameters is replaced on success.
    """
    email_normalized = normalize_email(email)
    wait = await throttle.start_attempt_off_loop(account=email_normalized, address=client_address)
    if wait > 0:
        raise TooManyAttempts(retry_after=math.ceil(wait))
    # The connection goes back to the pool before hashing, so a burst of logins cannot hold them all.
    user = await db.run(partial(_find_user, email_normalized=email_normalized))
    matches, new_hash = await verify_password(
        normalize_password(password), user.password_hash if user else None
    )
    if user is None or not matches:
        raise InvalidCredentials
    await throttle.attempt_succeeded_off_loop(account=email_normalized, address=client_address)
    if new_hash is not None:
        user.password_hash = new_hash
        user = await db.run(partial(_save, user=user))
        logger.info("Password re-hashed with current parameters", extra={"user_id": user.id})
    return user


def _find_user(session: Session, *, email_normalized: str) -> User | None:
    return session.exec(select(User).where(User.email_normalized == email_normalized)).first()


def _save(session: Session, *, user: User) -> User:
    merged = session.merge(user)
    session.commit()
    return merged


def create_login_session(*, session: Session, user: User, settings: Settings) -> IssuedSession:
    """Start a session for ``user`` and return its token (only the token's hash is stored)."""
    token = new_session_token()
    now = utc_now()
    expires_at = now + timedelta(hours=settings.SESSION_ABSOLUTE_HOURS)
    assert user.id is not None
    session.add(
        LoginSession(
            token_hash=hash_session_token(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )
    session.commit()
    return IssuedSession(
        token=token, expires_at=expires_at, idle_timeout=timedelta(minutes=settings.SESSION_IDLE_MINUTES)
    )


# One indexed SELECT for the user's public columns and the session columns the checks need. It
# runs on every signed-in request, on the session's connection: loading the user through the
# ORM's identity map took as long again as the query itself.
# SQLAlchemy's own `select`: SQLModel's is typed for at most four columns; `col` types each column.
_SESSION_LOOKUP = (
    sqlalchemy.select(
        col(User.id),
        col(User.email),
        col(User.display_name),
        col(User.created_at),
        sqlalchemy.label("login_id", col(LoginSession.id)),
        col(LoginSession.last_seen_at),
        col(LoginSession.expires_at),
        col(LoginSession.revoked_at),
    )
    .join(LoginSession, col(LoginSession.user_id) == User.id)
    .where(col(LoginSession.token_hash) == bindparam("token_hash"))
)


def resolve_session(*, session: Session, token: str, settings: Settings, touch: bool = True) -> SignedInUser:
    """Return the user a live session token belongs to; ``touch`` marks the session as used now.

    Raises :class:`SessionInvalid` when the token is unknown, revoked, past its absolute
    expiry, or unused for longer than ``SESSION_IDLE_MINUTES``.

    The last-use time is written at most once a minute (or once a tenth of the idle timeout,
    if that is shorter), so checking a token is a read almost every time: writing on every
    request would serialise requests on SQLite's single writer. The price is precision: a
    session may end up to that minute before ``SESSION_IDLE_MINUTES`` after its last use,
    never after.

    The user comes back as a read-only `SignedInUser`; to change the account, load its `User`
    with ``session.get``.
    """
    if not token:
        raise SessionInvalid
    row = session.connection().execute(_SESSION_LOOKUP, {"token_hash": hash_session_token(token)}).first()
    if row is None:
        raise SessionInvalid
    user_id, email, display_name, created_at, login_id, last_seen_at, expires_at, revoked_at = row
    assert user_id is not None  # the primary key of a stored row
    now = utc_now()
    idle_timeout = timedelta(minutes=settings.SESSION_IDLE_MINUTES)
    if revoked_at is not None or now >= expires_at or now - last_seen_at >= idle_timeout:
        raise SessionInvalid
    if touch and now - last_seen_at >= min(timedelta(minutes=1), idle_timeout / 10):
        session.exec(update(LoginSession).where(col(LoginSession.id) == login_id).values(last_seen_at=now))
        session.commit()
    return SignedInUser(id=user_id, email=email, display_name=display_name, created_at=created_at)


def revoke_session(*, session: Session, token: str) -> None:
    """Sign a session out on the server; later requests with its token are refused. Idempotent."""
    login = session.exec(
        select(LoginSession).where(LoginSession.token_hash == hash_session_token(token))
    ).first()
    if login is None or login.revoked_at is not None:
        return
    login.revoked_at = utc_now()
    session.add(login)
    session.commit()
