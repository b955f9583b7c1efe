"""Past conversations: a list with dates, and each one's full transcript."""

from __future__ import annotations

import reflex as rx

from voice_app import routes
from voice_app.auth.guards import require_login
from voice_app.history.actions import conversation_actions, delete_all_button
from voice_app.history.state import ConversationRow, HistoryState, TranscriptRow
from voice_app.layout import signed_in_frame


def _conversation_item(row: ConversationRow) -> rx.Component:
    return rx.el.li(
        rx.link(
            rx.card(
                rx.vstack(
                    rx.flex(
                        rx.el.time(rx.text(row.started, weight="bold"), date_time=row.started_iso),
                        rx.text(row.duration, " · ", row.messages, size="2", color_scheme="gray"),
                        justify="between",
                        wrap="wrap",
                        spacing="2",
                        width="100%",
                    ),
                    rx.cond(
                        row.preview != "",
                        rx.text("You: ", row.preview, size="2", color_scheme="gray"),
                    ),
                    spacing="1",
                    width="100%",
                ),
                width="100%",
            ),
            href=row.href,
            underline="none",
            color="inherit",
            width="100%",
            display="block",
        ),
        class_name="conversation",
        list_style="none",
    )


@require_login
def history_page() -> rx.Component:
    """The signed-in user's conversations, newest first."""
    return signed_in_frame(
        rx.vstack(
            rx.flex(
                rx.heading("Your conversations", size="6", as_="h1"),
                rx.cond(HistoryState.conversations.length() > 0, delete_all_button()),
                justify="between",
                align="center",
                wrap="wrap",
                spacing="2",
                width="100%",
            ),
            rx.cond(
                HistoryState.conversations.length() > 0,
                rx.el.ul(
                    rx.foreach(HistoryState.conversations, _conversation_item),
                    id="conversations",
                    padding="0",
                    margin="0",
                    display="flex",
                    flex_direction="column",
                    gap="0.75em",
                    width="100%",
                ),
                rx.cond(
                    HistoryState.loaded,
                    rx.text(
                        "No conversations yet. ",
                        rx.link("Start one on the talk page.", href=routes.TALK, underline="always"),
                        color_scheme="gray",
                    ),
                    rx.spinner(size="3"),
                ),
            ),
            spacing="4",
            width="100%",
        ),
        current=routes.HISTORY,
    )


def _message(row: TranscriptRow) -> rx.Component:
    is_user = row.role == "user"
    return rx.el.li(
        rx.flex(
            rx.text(rx.match(row.role, ("user", "You"), ("tool", "Tool"), "Agent"), weight="bold", size="2"),
            rx.cond(row.source == "typed", rx.badge("typed", size="1", variant="outline")),
            rx.el.time(rx.text(row.time, size="1", color_scheme="gray"), date_time=row.time_iso),
            spacing="2",
            align="center",
        ),
        rx.text(row.text, class_name="message-text", size="3"),
        class_name="transcript-message",
        data_role=row.role,
        list_style="none",
        align_self=rx.cond(is_user, "flex-end", "flex-start"),
        max_width="85%",
        padding="0.5em 0.75em",
        border_radius="var(--radius-3)",
        background=rx.match(
            row.role, ("user", rx.color("accent", 3)), ("tool", rx.color("amber", 3)), rx.color("gray", 3)
        ),
    )


@require_login
def conversation_page() -> rx.Component:
    """One conversation's full transcript (only its owner sees it)."""
    return signed_in_frame(
        rx.vstack(
            rx.link("← All conversations", href=routes.HISTORY, size="2"),
            rx.cond(
                HistoryState.detail_missing,
                rx.callout(
                    "This conversation does not exist, or it is not yours.",
                    icon="info",
                    color_scheme="gray",
                    role="alert",
                ),
                rx.cond(
                    HistoryState.detail,
                    rx.vstack(
                        rx.heading("Conversation of ", HistoryState.detail.started, size="6", as_="h1"),
                        rx.text(
                            HistoryState.detail.duration,
                            " · ",
                            HistoryState.detail.messages,
                            size="2",
                            color_scheme="gray",
                        ),
                        conversation_actions(),
                        rx.el.ol(
                            rx.foreach(HistoryState.transcript, _message),
                            id="transcript",
                            aria_label="Transcript",
                            padding="0",
                            margin="0",
                            display="flex",
                            flex_direction="column",
                            gap="0.5em",
                            width="100%",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    rx.spinner(size="3"),
                ),
            ),
            spacing="4",
            width="100%",
        ),
        current=routes.HISTORY,
    )
