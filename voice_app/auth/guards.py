"""`require_login(page)`: a page only a signed-in user sees.

A signed-out visitor (or one whose session the server no longer accepts) is sent to
``/login?next=<this page>`` and comes back here after signing in. The check runs each time the
page is shown, so a session revoked elsewhere is noticed on the next visit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import reflex as rx

from voice_app.auth.state import AuthState


def require_login(page: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
    """Wrap ``page`` so it renders only for a signed-in user."""

    @functools.wraps(page)
    def protected_page() -> rx.Component:
        # Both branches check on mount: the page re-validates a remembered session with the
        # server, and the placeholder (shown before hydration, or when another tab signed out)
        # sends a visitor without a live session to the login page.
        return rx.cond(
            AuthState.is_hydrated & AuthState.is_authenticated,
            rx.box(page(), on_mount=AuthState.check_login, width="100%"),
            rx.center(
                rx.spinner(size="3"),
                rx.text("Checking your sign-in…", color_scheme="gray"),
                on_mount=AuthState.check_login,
                direction="column",
                gap="3",
                height="60vh",
            ),
        )

    return protected_page
