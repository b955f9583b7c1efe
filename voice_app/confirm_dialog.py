"""A button that asks before it does something that cannot be undone (Radix's alert dialog).

The dialog traps focus, closes with Escape, starts on Cancel, and names itself by its title
and description, so it works from the keyboard and with a screen reader.
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventType


def confirm_button(
    label: str,
    *,
    title: str,
    description: str,
    confirm_label: str,
    on_confirm: EventType[()],
    button_id: str,
) -> rx.Component:
    """``label`` opens a dialog saying ``title`` and ``description``; ``confirm_label`` runs ``on_confirm``."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            # high contrast: Radix's soft red, pressed while its dialog is open, is 4.2:1
            rx.button(
                rx.icon("trash_2"),
                label,
                id=button_id,
                color_scheme="red",
                variant="soft",
                high_contrast=True,
                size="2",
            )
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description, size="2"),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray", size="2")),
                rx.alert_dialog.action(
                    # high contrast: white on Radix's red-9 is 3.8:1, under WCAG's 4.5:1
                    rx.button(
                        confirm_label, on_click=on_confirm, color_scheme="red", high_contrast=True, size="2"
                    )
                ),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
            max_width="30em",
        ),
    )
