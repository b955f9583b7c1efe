"""What a page shows when one of its actions fails on the server (Reflex's backend error handler).

No ``from __future__ import annotations`` here: Reflex checks the handler's return annotation.
"""

import reflex as rx
from reflex.app import default_backend_exception_handler
from reflex.event import EventSpec

from voice_app.api_errors import DATABASE_BUSY, DATABASE_UNREACHABLE
from voice_app.db import DatabaseUnavailable


def show_backend_error(exception: Exception) -> EventSpec:
    """A database that is down or full is said in words; anything else as Reflex says it."""
    if isinstance(exception, DatabaseUnavailable):
        return rx.toast.error(
            DATABASE_BUSY if exception.busy else DATABASE_UNREACHABLE, id="database_unavailable"
        )
    return default_backend_exception_handler(exception)
