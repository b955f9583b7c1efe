"""Password hashing: argon2id through passlib's `CryptContext` (the maintained `libpass` fork).

`passlib` 1.7.4 (2020) is unmaintained and breaks with current `bcrypt`; `libpass` installs the
same `passlib` import and is maintained. The argon2 backend is `argon2-cffi`.

Hashing is deliberately slow and memory-hard, so it runs on a small dedicated thread pool
(argon2-cffi releases the GIL) and the event loop keeps serving other requests. The pool has one
thread fewer than there are cores, so a burst of logins leaves a core for the event loop
(`bench/auth_login.py` measures the effect).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

from passlib.context import CryptContext

from voice_app.settings import Settings, get_settings

_hashing_pool = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="password-hash"
)


@dataclass(frozen=True)
class PasswordHasher:
    """Hashes and verifies passwords with one set of argon2id parameters.

    ``dummy_hash`` is verified when no user has the given email, so a login for an unknown
    address takes as long as one with a wrong password.
    """

    context: CryptContext
    dummy_hash: str

    def hash(self, password: str) -> str:
        """Hash a (normalised) password. Blocking: call through :func:`hash_password`."""
        return self.context.hash(password)

    def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Check ``password``; return (matches, new hash when the stored one uses old parameters)."""
        if password_hash is None:
            self.context.verify(password, self.dummy_hash)
            return False, None
        return self.context.verify_and_update(password, password_hash)


def make_password_hasher(settings: Settings) -> PasswordHasher:
    """Build a hasher from the ARGON2_* settings."""
    context = CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=settings.ARGON2_MEMORY_KIB,
        argon2__time_cost=settings.ARGON2_TIME_COST,
        argon2__parallelism=settings.ARGON2_PARALLELISM,
    )
    return PasswordHasher(context=context, dummy_hash=context.hash(secrets.token_urlsafe(16)))


@lru_cache
def get_password_hasher() -> PasswordHasher:
    """The process's hasher, built from its settings on first use."""
    return make_password_hasher(get_settings())


def _hash_blocking(password: str) -> str:
    return get_password_hasher().hash(password)


def _verify_blocking(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    return get_password_hasher().verify(password, password_hash)


async def hash_password(password: str) -> str:
    """Hash ``password`` off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_hashing_pool, _hash_blocking, password)


async def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Verify off the event loop; ``password_hash=None`` spends the same time and fails."""
    return await asyncio.get_running_loop().run_in_executor(
        _hashing_pool, _verify_blocking, password, password_hash
    )
