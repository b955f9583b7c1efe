"""Log levels of the backend and the agent worker, set by ``LOG_LEVEL``.

The default (``INFO``) shows the app's own lines and keeps the libraries to what a developer needs:
their DEBUG output (asyncio, faster-whisper, HTTP clients) and PyJWT's warning about the
development secret's length are hidden (production refuses short secrets anyway). ``DEBUG`` turns
everything on. Standard library only at import: the inference image copies this one module.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Literal

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
APP_LOGGERS = ("voice_app", "agent_worker")
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


def configure_backend_logging(level: LogLevel) -> None:
    """The backend's lines on stderr at ``level``; at ``DEBUG`` every library's too.

    Reflex logs its own lines through its own handlers; ours get one handler here, once.
    """
    set_app_log_level(level)
    app_logger = logging.getLogger("voice_app")
    if not app_logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(ExtrasFormatter("%(levelname)s %(name)s: %(message)s"))
        app_logger.addHandler(handler)
        app_logger.propagate = False
    if level == "DEBUG":
        logging.basicConfig(level=logging.DEBUG)
