"""The talk page: talk to the agent by voice, video and chat, with live captions.

Two columns on a wide screen, one on a phone. Left: the stage in words and colour, the agent's
voice as bars, video tiles, the microphone / camera / screen-share toggles, device choice, and
Start / End. Right: captions of both sides merged with the chat, the chat box, and per-turn
latency in a details panel. Every control is a real button or form field with a label, so the
page works from the keyboard and with a screen reader; the status is announced politely and
problems as alerts.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventCallback
from reflex.vars import ObjectVar
from reflex_base.breakpoints import Breakpoints  # `rx.breakpoints`, whose return type is unannotated

from voice_app import routes
from voice_app.app_settings import APP_SETTINGS, AppSettings
from voice_app.auth.guards import require_login
from voice_app.layout import signed_in_frame
from voice_app.talk import livekit_components as lk
from voice_app.talk.push_to_talk import push_to_talk_button
from voice_app.talk.state import CHAT_MESSAGE_MAX_CHARS, CaptionLine, TalkState, TurnLatency

VISUALLY_HIDDEN: dict[str, Any] = {
    "position": "absolute",
    "width": "1px",
    "height": "1px",
    "padding": "0",
    "margin": "-1px",
    "overflow": "hidden",
    "clip": "rect(0, 0, 0, 0)",
    "white_space": "nowrap",
    "border": "0",
}

_FOCUS_RING: dict[str, Any] = {"outline": f"2px solid {rx.color('accent', 8)}", "outline_offset": "2px"}

TOGGLE_STYLE: dict[str, Any] = {
    "display": "inline-flex",
    "align_items": "center",
    "gap": "0.4em",
    "min_height": "2.75em",
    "padding": "0 0.9em",
    "border_radius": "var(--radius-3)",
    "border": f"1px solid {rx.color('gray', 7)}",
    "background": rx.color("gray", 2),
    "color": rx.color("gray", 12),
    "font": "inherit",
    "font_size": "var(--font-size-2)",
    "cursor": "pointer",
    "& svg": {"width": "1.1em", "height": "1.1em"},
    "&[aria-pressed='true']": {
        "background": rx.color("accent", 9),
        "border_color": rx.color("accent", 9),
        "color": rx.color("accent", 1),
    },
    "&:disabled": {"opacity": "0.6", "cursor": "progress"},
    "&:focus-visible": _FOCUS_RING,
}

VISUALIZER_STYLE: dict[str, Any] = {
    "display": "flex",
    "align_items": "center",
    "justify_content": "center",
    "gap": "8px",
    "height": "120px",
    "width": "100%",
    "& .lk-audio-bar": {
        "width": "16px",
        "min_height": "16px",
        "border_radius": "8px",
        "background": rx.color("gray", 6),
        "transition": "height 80ms linear, background-color 250ms",
    },
    "& .lk-audio-bar.lk-highlighted, & .lk-audio-bar[data-lk-highlighted='true']": {
        "background": rx.color("accent", 9),
    },
    "&[data-lk-va-state='speaking'] .lk-audio-bar": {"background": rx.color("violet", 9)},
}

DEVICE_SELECT_STYLE: dict[str, Any] = {
    "display": "flex",
    "flex_direction": "column",
    "gap": "0.25em",
    "font_size": "var(--font-size-2)",
    "& select": {
        "min_height": "2.5em",
        "padding": "0 0.5em",
        "border_radius": "var(--radius-2)",
        "border": f"1px solid {rx.color('gray', 7)}",
        "background": rx.color("gray", 1),
        "color": rx.color("gray", 12),
        "font": "inherit",
        "max_width": "100%",
    },
    "& select:focus-visible": _FOCUS_RING,
}

VIDEO_STYLE: dict[str, Any] = {
    "width": "100%",
    "max_height": "16em",
    "border_radius": "var(--radius-3)",
    "background": "black",
    "object_fit": "contain",
}


def _status_badge() -> rx.Component:
    return rx.badge(
        rx.box(width="0.6em", height="0.6em", border_radius="50%", background="currentColor"),
        TalkState.stage_label,
        id="talk-status",
        role="status",
        aria_live="polite",
        color_scheme=TalkState.stage_color,
        size="3",
        variant="soft",
        radius="full",
        data_stage=TalkState.stage,
    )


def _problem_callout() -> rx.Component:
    return rx.cond(
        TalkState.problem != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle_alert")),
            rx.flex(
                rx.text(TalkState.problem_title, weight="bold"),
                rx.text(TalkState.problem_message),
                rx.cond(
                    TalkState.problem_ends_session,
                    rx.button("Try again", on_click=TalkState.start_conversation, size="2"),
                    rx.button("Dismiss", on_click=TalkState.dismiss_problem, size="2", variant="soft"),
                ),
                direction="column",
                spacing="2",
                align="start",
            ),
            id="talk-problem",
            role="alert",
            color_scheme="red",
            data_problem=TalkState.problem,
            width="100%",
        ),
    )


def _offline_model_notice() -> rx.Component:
    """Say plainly that the offline LLM is tiny, and how to switch to a real one."""
    return rx.cond(
        TalkState.llm_provider == "local",
        rx.callout.root(
            rx.callout.icon(rx.icon("info")),
            rx.callout.text(
                "You are talking to the small offline model (SmolLM2-135M on this computer's CPU): "
                "it proves the pipeline, but its answers are short and often wrong, and it is not given "
                "the agent's tools (the date and time, your past conversations), which it cannot call "
                "reliably. For a real model, "
                "set OPENAI_API_KEY, or LLM_BASE_URL and LLM_MODEL for Ollama or vLLM, in the agent "
                "worker's environment and restart it."
            ),
            id="offline-model-notice",
            color_scheme="amber",
            variant="surface",
            high_contrast=True,  # amber's text on its own surface is below 4.5:1 in light mode
            width="100%",
        ),
    )


def _toggle(label: str, source: lk.TrackSource) -> rx.Component:
    def changed(enabled: rx.Var[bool], _user_initiated: rx.Var[bool]) -> EventCallback[()]:
        return TalkState.track_changed(source, enabled)

    def failed(error_name: rx.Var[str]) -> EventCallback[()]:
        return TalkState.device_failed(source, error_name)

    return lk.track_toggle(
        label,
        source=source,
        on_change=changed,
        on_device_error=failed,
        style=TOGGLE_STYLE,
    )


def _push_to_talk() -> rx.Component:
    return rx.vstack(
        push_to_talk_button(
            id="push-to-talk",
            on_error=TalkState.session_failed,
            style={**TOGGLE_STYLE, "width": "100%", "justify_content": "center", "min_height": "3.5em"},
        ),
        rx.text(
            "Push-to-talk is on: the agent hears you only while you hold the button or the space bar. ",
            rx.link("Change it in Settings.", href=routes.SETTINGS),
            size="2",
            color_scheme="gray",
        ),
        width="100%",
        spacing="2",
    )


def _controls(offered: AppSettings = APP_SETTINGS) -> rx.Component:
    toggles = [_toggle("Microphone", "microphone")]
    if offered.offer_camera:
        toggles.append(_toggle("Camera", "camera"))
    if offered.offer_screen_share:
        toggles.append(_toggle("Share screen", "screen_share"))
    return rx.vstack(
        rx.cond(TalkState.push_to_talk, _push_to_talk()),
        rx.flex(
            *toggles,
            spacing="2",
            wrap="wrap",
            role="group",
            aria_label="Your microphone, camera and screen",
        ),
        rx.el.details(
            rx.el.summary("Devices", cursor="pointer", padding_y="0.25em"),
            rx.grid(
                lk.device_select("audioinput", "Microphone", style=DEVICE_SELECT_STYLE),
                *(
                    [lk.device_select("videoinput", "Camera", style=DEVICE_SELECT_STYLE)]
                    if offered.offer_camera
                    else []
                ),
                lk.device_select("audiooutput", "Speaker", style=DEVICE_SELECT_STYLE),
                columns=Breakpoints[str, str].create(initial="1", sm="3"),
                spacing="3",
                padding_top="0.5em",
            ),
            width="100%",
        ),
        width="100%",
        spacing="3",
    )


def _media() -> rx.Component:
    """What needs the LiveKit room: the agent's voice and video, self view, toggles, devices."""
    return lk.agent_session(
        lk.room_audio_renderer(),
        lk.start_audio(label="Allow the agent's voice to play", style=TOGGLE_STYLE),
        lk.agent_visualizer(bar_count=5, style=VISUALIZER_STYLE, aria_hidden="true"),
        lk.video_tile("agent", aria_label="The agent's video", style=VIDEO_STYLE),
        rx.cond(
            TalkState.camera_on,
            lk.video_tile("camera", aria_label="Your camera (self view)", style=VIDEO_STYLE),
        ),
        rx.cond(
            TalkState.screen_share_on,
            lk.video_tile("screen_share", aria_label="Your shared screen", style=VIDEO_STYLE),
        ),
        rx.cond(TalkState.connect, _controls()),
        key=TalkState.room_name,
        server_url=TalkState.server_url,
        token=TalkState.livekit_token,
        connect=TalkState.connect,
        outgoing_chat=TalkState.outgoing_chat,
        on_state_change=TalkState.session_state_changed,
        on_transcript=TalkState.transcript_changed,
        on_error=TalkState.session_failed,
        on_latency=TalkState.latency_received,
        on_tool=TalkState.tool_reported,
        on_disconnected=TalkState.session_disconnected,
    )


def _agent_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Agent", size="4", as_="h2"),
                _status_badge(),
                justify="between",
                align="center",
                width="100%",
                spacing="2",
                wrap="wrap",
            ),
            rx.cond(
                TalkState.livekit_token != "",
                rx.box(_media(), width="100%", display="flex", flex_direction="column", gap="0.75em"),
                rx.text(
                    f"Press {APP_SETTINGS.start_button_text} and speak: the agent answers by voice and "
                    "in the captions." + (" You can also type." if APP_SETTINGS.offer_chat else ""),
                    color_scheme="gray",
                ),
            ),
            rx.cond(
                TalkState.connect,
                rx.button(
                    rx.icon("phone_off"),
                    "End",
                    on_click=TalkState.end_conversation,
                    color_scheme="red",
                    size="3",
                    width="100%",
                ),
                rx.vstack(
                    rx.button(
                        rx.icon("phone"),
                        APP_SETTINGS.start_button_text,
                        on_click=TalkState.start_conversation,
                        loading=TalkState.busy_starting,
                        size="3",
                        width="100%",
                    ),
                    rx.cond(
                        TalkState.stage == "disconnected",
                        rx.text(
                            "Conversation ended. ",
                            rx.link("It is in your history.", href=routes.HISTORY, underline="always"),
                            size="2",
                            color_scheme="gray",
                        ),
                    ),
                    width="100%",
                    spacing="2",
                ),
            ),
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def _caption(line: ObjectVar[CaptionLine]) -> rx.Component:
    is_user = line.role == "user"
    return rx.box(
        rx.flex(
            rx.text(rx.match(line.role, ("user", "You"), ("tool", "Tool"), "Agent"), weight="bold", size="1"),
            rx.cond((line.role == "tool") & ~line.final, rx.spinner(size="1")),
            rx.cond(line.source == "typed", rx.badge("typed", size="1", variant="outline")),
            spacing="2",
            align="center",
        ),
        rx.text(
            line.text, class_name="caption-text", size="3", opacity=rx.cond(line.final | ~is_user, "1", "0.7")
        ),
        class_name="caption",
        data_role=line.role,
        data_source=line.source,
        data_final=rx.cond(line.final, "true", "false"),
        align_self=rx.cond(is_user, "flex-end", "flex-start"),
        max_width="85%",
        padding="0.5em 0.75em",
        border_radius="var(--radius-3)",
        background=rx.match(
            line.role, ("user", rx.color("accent", 3)), ("tool", rx.color("amber", 3)), rx.color("gray", 3)
        ),
    )


def _chat_form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.el.label("Message to the agent", html_for="chat-message", style=VISUALLY_HIDDEN),
            rx.input(
                id="chat-message",
                name="message",
                placeholder="Type a message…",
                max_length=CHAT_MESSAGE_MAX_CHARS,
                auto_complete="off",
                disabled=~TalkState.connect,
                size="3",
                flex_grow="1",
            ),
            rx.button("Send", type="submit", disabled=~TalkState.connect, size="3"),
            spacing="2",
            width="100%",
        ),
        on_submit=TalkState.send_chat,
        reset_on_submit=True,
        width="100%",
        aria_label="Chat",
    )


def _latency_row(turn: ObjectVar[TurnLatency]) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(turn.turn),
        rx.table.cell(turn.input),
        rx.table.cell(turn.end_of_turn),
        rx.table.cell(turn.stt),
        rx.table.cell(turn.llm_ttft),
        rx.table.cell(turn.llm_first_sentence),
        rx.table.cell(turn.tts_ttfb),
        rx.table.cell(turn.e2e),
    )


def _latency_details() -> rx.Component:
    headers = [
        "Turn",
        "Input",
        "End of turn",
        "Speech to text",
        "LLM first token",
        "LLM first sentence",
        "TTS first audio",
        "Total",
    ]
    return rx.el.details(
        rx.el.summary("Latency per turn", cursor="pointer", padding_y="0.25em"),
        rx.cond(
            TalkState.latencies.length() > 0,
            rx.box(
                rx.table.root(
                    rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
                    rx.table.body(rx.foreach(TalkState.latencies, _latency_row)),
                    size="1",
                ),
                overflow_x="auto",
            ),
            rx.text("No completed turns yet.", size="2", color_scheme="gray"),
        ),
        rx.text(
            "Total: from the end of your speech (or your message) to the agent starting to answer.",
            size="1",
            color_scheme="gray",
        ),
        id="latency-details",
        width="100%",
        font_size="var(--font-size-2)",
    )


def _conversation_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Conversation", size="4", as_="h2", id="transcript-heading"),
            rx.auto_scroll(
                rx.cond(
                    (TalkState.lines.length() > 0) | (TalkState.live_lines.length() > 0),
                    rx.fragment(
                        rx.foreach(TalkState.lines, _caption), rx.foreach(TalkState.live_lines, _caption)
                    ),
                    rx.text(
                        "Captions of both sides and your typed messages appear here.",
                        color_scheme="gray",
                        size="2",
                    ),
                ),
                id="transcript",
                role="log",
                aria_labelledby="transcript-heading",
                tab_index=0,
                display="flex",
                flex_direction="column",
                gap="0.5em",
                height=rx.breakpoints(initial="40vh", md="50vh"),
                width="100%",
                padding="0.25em",
                _focus_visible=_FOCUS_RING,
            ),
            *([_chat_form()] if APP_SETTINGS.offer_chat else []),
            _latency_details(),
            spacing="3",
            width="100%",
        ),
        size="3",
        width="100%",
    )


@require_login
def talk_page() -> rx.Component:
    """The talk page for a signed-in user."""
    return signed_in_frame(
        rx.vstack(
            rx.heading("Talk to the agent", size="6", as_="h1"),
            _problem_callout(),
            _offline_model_notice(),
            rx.grid(
                _agent_panel(),
                _conversation_panel(),
                columns=Breakpoints[str, str].create(initial="1", md="2"),
                spacing="4",
                width="100%",
                align_items="start",
            ),
            spacing="4",
            width="100%",
        ),
        current=routes.TALK,
    )
