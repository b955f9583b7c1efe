"""Log levels of the backend and the agent worker, set by ``LOG_LEVEL``, with secrets masked.

The default (``INFO``) shows the app's own lines and keeps the libraries to what a developer needs:
their DEBUG output (asyncio, faster-whisper, HTTP clients) and PyJWT's warning about the
development secret's length are hidden (production refuses short secrets anyway). ``DEBUG`` turns
everything on. Reflex configures logging for its own console only, so the backend's handler is
added here; it masks the secrets the process holds (LiveKit's API secret, passwords in the
database and Redis URLs) in every line, whichever library wrote it. Standard library only at
import: the inference image copies this one module.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import AsyncGenerator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from voice_app.settings import Settings

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
APP_LOGGERS = ("voice_app", "agent_worker")
MASK = "********"
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class ExtrasFormatter(logging.Formatter):
    """The message, then the ``extra=`` fields as ``key=value`` (our logs carry values only there)."""

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` with its extra fields appended."""
        line = super().format(record)
        extras = {key: value for key, value in vars(record).items() if key not in _RECORD_FIELDS}
        return " ".join([line, *(f"{key}={value}" for key, value in extras.items())])


def quiet_library_warnings(level: LogLevel) -> None:
    """Hide PyJWT's short-key warning below ``DEBUG`` (call in every process that signs tokens)."""
    if level != "DEBUG":
        from jwt.warnings import InsecureKeyLengthWarning  # here: the inference image has no PyJWT

        warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)


def set_app_log_level(level: LogLevel) -> None:
    """Our loggers at ``level``, whoever configures the handlers (the agent worker's CLI does)."""
    for name in APP_LOGGERS:
        logging.getLogger(name).setLevel(level)
    quiet_library_warnings(level)


class MaskSecrets(logging.Filter):
    """Replace each known secret in a record's message (after formatting its arguments)."""

    def __init__(self, secrets: Iterable[str]) -> None:
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


def configure_backend_logging(level: LogLevel, secrets: Iterable[str] = ()) -> None:
    """Every logger's lines on stderr at ``level`` (once per process), ``secrets`` masked.

    Below ``DEBUG`` the libraries' DEBUG lines stay hidden because the root logger is at ``level``.
    """
    set_app_log_level(level)
    root = logging.getLogger()
    if not any(isinstance(f, MaskSecrets) for handler in root.handlers for f in handler.filters):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(ExtrasFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(MaskSecrets(secrets))
        root.addHandler(handler)
    root.setLevel(level)


@asynccontextmanager
async def log_level_lifespan() -> AsyncGenerator[None, None]:
    """Set ``LOG_LEVEL`` again once the server runs.

    Granian configures logging in each worker after the app module was imported, and leaves the
    root logger at INFO.
    """
    from voice_app.settings import get_settings  # here: settings import this module

    logging.getLogger().setLevel(get_settings().LOG_LEVEL)
    yield
