"""The settings page: memory across conversations and push-to-talk, each a labelled switch."""

from __future__ import annotations

from typing import Any

import reflex as rx

from voice_app import routes
from voice_app.auth.guards import require_login
from voice_app.layout import signed_in_frame
from voice_app.preferences.state import PreferencesState


def _switch_row(
    *, switch_id: str, label: str, description: str, checked: rx.Var[bool], on_change: Any
) -> rx.Component:
    return rx.flex(
        rx.switch(
            id=switch_id, checked=checked, on_change=on_change, aria_describedby=f"{switch_id}-help", size="3"
        ),
        rx.box(
            rx.el.label(label, html_for=switch_id, font_weight="bold"),
            rx.text(description, id=f"{switch_id}-help", size="2", color_scheme="gray"),
        ),
        spacing="3",
        align="start",
    )


def _memory_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Memory", size="4", as_="h2"),
            _switch_row(
                switch_id="memory-switch",
                label="Remember my recent conversations",
                description=(
                    "When on, each new conversation starts with the agent knowing a short summary of "
                    "your latest ones. Off: every conversation starts fresh. Applies from your next "
                    "conversation."
                ),
                checked=PreferencesState.memory,
                on_change=PreferencesState.set_memory,
            ),
            rx.cond(
                PreferencesState.memory,
                rx.box(
                    rx.heading("What the agent remembers", size="3", as_="h3"),
                    rx.cond(
                        PreferencesState.remembered != "",
                        rx.text(PreferencesState.remembered, id="remembered", size="2"),
                        rx.text(
                            "Nothing yet: talk to the agent and it will remember what you asked.",
                            id="remembered",
                            size="2",
                            color_scheme="gray",
                        ),
                    ),
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def _talking_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Talking", size="4", as_="h2"),
            _switch_row(
                switch_id="push-to-talk-switch",
                label="Push-to-talk",
                description=(
                    "When on, the agent hears you only while you hold the Hold to talk button (or the "
                    "space bar) on the talk page, and nothing you say outside it interrupts the agent. "
                    "Off: an open microphone, the agent listens all the time. Applies from your next "
                    "conversation."
                ),
                checked=PreferencesState.push_to_talk,
                on_change=PreferencesState.set_push_to_talk,
            ),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )


@require_login
def settings_page() -> rx.Component:
    """The signed-in user's settings."""
    return signed_in_frame(
        rx.vstack(
            rx.heading("Settings", size="6", as_="h1"),
            rx.cond(
                PreferencesState.loaded,
                rx.vstack(_memory_card(), _talking_card(), spacing="4", width="100%"),
                rx.spinner(size="3"),
            ),
            rx.text(PreferencesState.saved, id="settings-saved", role="status", aria_live="polite", size="2"),
            spacing="4",
            width="100%",
            max_width="48em",
        ),
        current=routes.SETTINGS,
    )
