"""The backend's own log lines (the app's and the libraries' it calls), at LOG_LEVEL, secrets masked.

Reflex configures logging for its own console only, so without this the app's records (and
those of SQLAlchemy, httpx or the LiveKit client) went nowhere. The handler masks the secrets
this process knows (the LiveKit API secret, passwords inside DATABASE_URL and REDIS_URL) in every
line, whatever library wrote it; what the app itself logs never includes a password, a session
or LiveKit token, or a secret (values go in ``extra=`` fields, and those are ids and names).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from voice_app.settings import Settings, get_settings

MASK = "********"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class MaskSecrets(logging.Filter):
    """Replace each known secret in a record's message (after formatting its arguments)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if len(secret) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the secrets in ``record``; never drops it."""
        message = record.getMessage()
        masked = message
        for secret in self._secrets:
            masked = masked.replace(secret, MASK)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def known_secrets(settings: Settings) -> list[str]:
    """The secrets this process holds that a library could print."""
    secrets = [settings.LIVEKIT_API_SECRET]
    for url in (settings.DATABASE_URL, settings.REDIS_URL or ""):
        password = urlsplit(url).password
        if password:
            secrets.append(password)
    return secrets


def configure_logging(settings: Settings) -> None:
    """Send log records at LOG_LEVEL and above to stderr, secrets masked (once per process)."""
    root = logging.getLogger()
    if any(isinstance(f, MaskSecrets) for handler in root.handlers for f in handler.filters):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(MaskSecrets(known_secrets(settings)))
    root.addHandler(handler)
    root.setLevel(settings.LOG_LEVEL)


@asynccontextmanager
async def log_level_lifespan() -> AsyncIterator[None]:
    """Set LOG_LEVEL again once the server runs.

    Granian configures logging in each worker after the app module (and `configure_logging`) was
    imported, and leaves the root logger at INFO.
    """
    logging.getLogger().setLevel(get_settings().LOG_LEVEL)
    yield
