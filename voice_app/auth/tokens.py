"""Session tokens: 256 random bits from `secrets`; the database keeps only their SHA-256.

A stolen copy of the database therefore holds no usable token. A plain (unsalted) SHA-256 is
enough here because the token is random, unlike a password, and lookup must be by hash.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_session_token() -> str:
    """A fresh bearer token (URL-safe text, 256 bits of randomness)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_session_token(token: str) -> str:
    """The hex SHA-256 of ``token``: what ``LoginSession.token_hash`` stores and is searched by."""
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()
