"""The frame around the signed-in pages (talk, history, settings): a header with navigation and a main area."""

from __future__ import annotations

import reflex as rx

from voice_app import routes
from voice_app.app_settings import APP_SETTINGS
from voice_app.auth.state import AuthState


def _nav_link(label: str, href: str, current: bool) -> rx.Component:
    return rx.link(
        label,
        href=href,
        size="3",
        weight="bold" if current else "regular",
        underline="always" if current else "hover",
        aria_current="page" if current else None,
    )


def signed_in_frame(*children: rx.Component, current: str) -> rx.Component:
    """Header (app name, Talk / History / Settings / Sign out, colour-mode switch) above ``children``.

    ``current`` is the route of the page, marked for screen readers with ``aria-current``.
    """
    header = rx.el.header(
        rx.flex(
            rx.link(
                rx.heading(APP_SETTINGS.product_name, size="5"),
                href=routes.TALK,
                underline="none",
                color="inherit",
            ),
            rx.el.nav(
                rx.flex(
                    _nav_link("Talk", routes.TALK, current == routes.TALK),
                    _nav_link("History", routes.HISTORY, current == routes.HISTORY),
                    _nav_link("Settings", routes.SETTINGS, current == routes.SETTINGS),
                    _nav_link("Account", routes.ACCOUNT, current == routes.ACCOUNT),
                    rx.link("Sign out", href=routes.LOGOUT, size="3"),
                    spacing="4",
                    align="center",
                    wrap="wrap",
                ),
                aria_label="Main",
            ),
            rx.spacer(),
            rx.text(
                AuthState.authenticated_user["display_name"], size="2", color_scheme="gray", truncate=True
            ),
            rx.color_mode.button(aria_label="Switch between light and dark", size="2", variant="ghost"),
            align="center",
            spacing="4",
            wrap="wrap",
            padding_x="1em",
            padding_y="0.75em",
            max_width="72em",
            margin_x="auto",
            width="100%",
        ),
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )
    return rx.box(
        header,
        rx.el.main(
            *children,
            id="main",
            max_width="72em",
            margin_x="auto",
            width="100%",
            padding="1em",
        ),
        min_height="100vh",
    )
