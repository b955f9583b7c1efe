"""A page action that fails because the database is down or full says so in words; any other
failure is left to Reflex's own handler (a generic message in production, logged)."""

from __future__ import annotations

from voice_app.api_errors import DATABASE_BUSY, DATABASE_UNREACHABLE
from voice_app.db import DatabaseUnavailable
from voice_app.page_errors import show_backend_error


def shown(exception: Exception) -> str:
    """The JavaScript the page runs for this failure (a toast call carrying the words)."""
    return " ".join(str(value) for _name, value in show_backend_error(exception).args)


def test_a_database_that_does_not_answer_is_named_on_the_page() -> None:
    assert DATABASE_UNREACHABLE in shown(DatabaseUnavailable("the database did not answer"))


def test_a_full_pool_tells_the_user_to_try_again_in_a_moment() -> None:
    assert DATABASE_BUSY in shown(DatabaseUnavailable("every connection is busy", busy=True))


def test_any_other_failure_gets_reflexs_own_message_not_ours() -> None:
    message = shown(RuntimeError("a bug"))
    assert "An error occurred." in message
    assert DATABASE_UNREACHABLE not in message
