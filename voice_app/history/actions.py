"""The history pages' buttons for a user's own data: download a conversation, delete one, delete all."""

from __future__ import annotations

import reflex as rx

from voice_app.confirm_dialog import confirm_button
from voice_app.history.data_state import ConversationDataState


def delete_all_button() -> rx.Component:
    """Delete every conversation, after a confirmation."""
    return confirm_button(
        "Delete all conversations",
        title="Delete all your conversations?",
        description="Every conversation and its whole transcript is deleted for good. This cannot be undone.",
        confirm_label="Delete all",
        on_confirm=ConversationDataState.delete_all,
        button_id="delete-all-conversations",
    )


def conversation_actions() -> rx.Component:
    """Download the open conversation as Markdown or JSON, or delete it after a confirmation."""
    return rx.flex(
        rx.button(
            rx.icon("download"),
            "Download as Markdown",
            on_click=ConversationDataState.download_current("markdown"),
            variant="soft",
            size="2",
        ),
        rx.button(
            rx.icon("download"),
            "Download as JSON",
            on_click=ConversationDataState.download_current("json"),
            variant="soft",
            size="2",
        ),
        confirm_button(
            "Delete this conversation",
            title="Delete this conversation?",
            description="The conversation and its whole transcript are deleted for good. This cannot be undone.",
            confirm_label="Delete",
            on_confirm=ConversationDataState.delete_current,
            button_id="delete-conversation",
        ),
        spacing="2",
        wrap="wrap",
        role="group",
        aria_label="Your conversation's data",
    )
