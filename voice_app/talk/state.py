"""`TalkState`: one conversation with the agent, as the talk page shows it.

**Start conversation** asks the rooms service for a token from this event handler, on the
server: the LiveKit secret never leaves the backend; the browser receives only the server
URL and a short-lived token for one new room. The LiveKit session component then reports
back (see `livekit_components`), and this state turns those facts into what the page says:
the stage in words and colour, captions of both sides merged with the chat, per-turn latency,
and each failure in words with a way out. A conversation still without its agent a few seconds
after connecting asks the rooms service whether any worker took it, so a full system says so
at once instead of after the join timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import reflex as rx
from reflex.event import EventCallback

from voice_app.auth import service as auth_service
from voice_app.auth.state import AuthState
from voice_app.db import DatabaseUnavailable, get_database
from voice_app.memory.preferences import get_preferences
from voice_app.protocol import AGENT_JOIN_TIMEOUT_SECONDS, LATENCY_MESSAGE_TYPE, MICROPHONE_ERRORS
from voice_app.rooms.agent_return import recover_silent_agent
from voice_app.rooms.service import (
    LimitExceeded,
    LiveKitUnavailable,
    RoomNotFound,
    RoomNotOwned,
    agent_dispatch_status,
    issue_token_for_room,
)
from voice_app.settings import get_settings

logger = logging.getLogger(__name__)

AGENT_BUSY_CHECK_SECONDS = 4
"""How long the page waits, connected without an agent, before asking whether a worker took the job."""

AGENT_RETURN_TIMEOUT_SECONDS = 15
"""How long the page waits for a new agent after the agent left unexpectedly (the worker sends
one within seconds when a job process dies) before it ends the conversation."""

CHAT_MESSAGE_MAX_CHARS = 2000
TOOL_TEXT_MAX_CHARS = 600


StageColor = Literal["gray", "amber", "grass", "blue", "violet", "orange", "red"]
"""The Radix colour scales the stages use."""


@dataclass(frozen=True)
class Stage:
    """How the page shows one stage of a conversation: words and a Radix colour."""

    label: str
    color: StageColor


STAGES: dict[str, Stage] = {
    "idle": Stage("Not connected", "gray"),
    "connecting": Stage("Connecting…", "amber"),
    "waiting": Stage("Waiting for the agent…", "amber"),
    "listening": Stage("Listening", "grass"),
    "thinking": Stage("Thinking…", "blue"),
    "speaking": Stage("Speaking", "violet"),
    "reconnecting": Stage("Reconnecting…", "orange"),
    "disconnected": Stage("Disconnected", "gray"),
    "failed": Stage("Disconnected", "red"),
}

_REPORTED_STAGES = {"connecting", "waiting", "listening", "thinking", "speaking", "reconnecting"}
_AGENT_GONE = {"agent_lost", "agent_silent"}
"""Problems that last until a new agent is heard (or `AGENT_RETURN_TIMEOUT_SECONDS` pass)."""


@dataclass(frozen=True)
class Problem:
    """A failure as the user reads it. ``ends_session``: the conversation is over (offer a retry)."""

    title: str
    message: str
    ends_session: bool


PROBLEMS: dict[str, Problem] = {
    "livekit_unreachable": Problem(
        "The voice server is unreachable",
        "LiveKit did not answer, so the conversation could not start. Check your connection and "
        "press Try again; if it keeps happening, the voice server is down.",
        ends_session=True,
    ),
    "database_unreachable": Problem(
        "The server could not start the conversation",
        "Its database did not answer. Wait a moment and press Try again.",
        ends_session=True,
    ),
    "agent_timeout": Problem(
        "The agent did not join",
        f"No agent joined within {AGENT_JOIN_TIMEOUT_SECONDS} seconds. The agent worker may be "
        "busy or not running. Press Try again.",
        ends_session=True,
    ),
    "agents_busy": Problem(
        "All agents are busy",
        "Every agent is in another conversation right now. Try again in a minute.",
        ends_session=True,
    ),
    "limit_reached": Problem(
        "Too many conversations",
        "This account reached its limit of conversations for now. Wait a little, then press Try again.",
        ends_session=True,
    ),
    "agent_lost": Problem(
        "The agent was lost",
        "The agent stopped unexpectedly. A new one is joining and will go on where you left off.",
        ends_session=False,
    ),
    "agent_silent": Problem(
        "The agent stopped responding",
        "Its connection went quiet. A new agent is joining and will go on where you left off.",
        ends_session=False,
    ),
    "agent_left": Problem(
        "The agent left",
        "The agent left the conversation unexpectedly and no new one came. Press Try again to "
        "start a new one.",
        ends_session=True,
    ),
    "token_expired": Problem(
        "The access pass expired",
        "The pass for this conversation expired before the connection was made. Press Try again "
        "to get a fresh one.",
        ends_session=True,
    ),
    "token_rejected": Problem(
        "The voice server refused the access pass",
        "Press Try again. If it keeps happening, sign out and sign in again.",
        ends_session=True,
    ),
    "connect_failed": Problem(
        "Could not connect",
        "The connection to the voice server failed. Press Try again.",
        ends_session=True,
    ),
    "network_dropped": Problem(
        "The connection dropped",
        "The network connection was lost and could not be restored. Check your connection, then "
        "press Try again to start a new conversation.",
        ends_session=True,
    ),
    "ended_by_server": Problem(
        "The conversation was closed",
        "The voice server closed this conversation. Press Try again to start a new one.",
        ends_session=True,
    ),
    "microphone_denied": Problem(
        "The microphone is blocked",
        "Your browser did not allow the microphone. Allow it for this site (the icon at the left "
        "of the address bar), then press Unmute. Meanwhile you can type in the chat.",
        ends_session=False,
    ),
    "microphone_missing": Problem(
        "No microphone found",
        "Connect a microphone and choose it under Devices, or type in the chat.",
        ends_session=False,
    ),
    "microphone_busy": Problem(
        "The microphone is in use",
        "Another program is using the microphone. Close it and press Unmute, or type in the chat.",
        ends_session=False,
    ),
    "microphone_failed": Problem(
        "The microphone did not start",
        "Choose another microphone under Devices and press Unmute, or type in the chat.",
        ends_session=False,
    ),
    "camera_failed": Problem(
        "The camera did not start",
        "Allow the camera for this site or choose another one under Devices, then press Camera again.",
        ends_session=False,
    ),
    "screen_share_failed": Problem(
        "Screen sharing did not start",
        "Your browser did not share the screen. Press Share screen to try again.",
        ends_session=False,
    ),
    "chat_failed": Problem(
        "Your message was not sent",
        "Check your connection and send it again.",
        ends_session=False,
    ),
    "push_to_talk_failed": Problem(
        "The agent did not get your press",
        "Push-to-talk could not reach the agent, so it may not have heard you. Hold the button again, "
        "or type in the chat.",
        ends_session=False,
    ),
}

_SERVER_CLOSED_REASONS = {"ROOM_DELETED", "ROOM_CLOSED", "PARTICIPANT_REMOVED", "SERVER_SHUTDOWN"}


@dataclass
class CaptionLine:
    """One line of the live transcript: a spoken segment, a typed chat message, or a tool call.

    A tool call (``role`` ``tool``) has a ``call`` line (not ``final`` while it runs) and then a
    ``result`` line.
    """

    id: str
    role: str
    source: str
    text: str
    final: bool


@dataclass
class TurnLatency:
    """How long one turn took, per stage, as text for the details panel ("—" when unknown)."""

    turn: int
    input: str
    end_of_turn: str
    stt: str
    llm_ttft: str
    llm_first_sentence: str
    tts_ttfb: str
    e2e: str


def _milliseconds(value: Any) -> str:
    return f"{value} ms" if isinstance(value, int) and not isinstance(value, bool) else "—"


def device_problem(source: str, error_name: str) -> str:
    """The problem kind for a browser error ``error_name`` while opening ``source``."""
    if source == "microphone":
        return MICROPHONE_ERRORS.get(error_name, "microphone_failed")
    return "camera_failed" if source == "camera" else "screen_share_failed"


class TalkState(AuthState):
    """The conversation on the talk page (one per browser tab)."""

    stage: str = "idle"
    llm_provider: str = ""
    """Which provider the agent's LLM runs on, as the agent announces it (``local`` = the tiny offline model)."""
    server_url: str = ""
    livekit_token: str = ""
    room_name: str = ""
    connect: rx.Field[bool] = rx.field(False)
    """While true the session component joins (or stays in) the room; End and fatal problems clear it."""
    problem: str = ""
    limit_detail: rx.Field[str] = rx.field("")
    """The backend's own sentence when a per-user limit refused the conversation."""
    lines: rx.Field[list[CaptionLine]] = rx.field([])
    """Finished lines, in the order they began. Changes once per line, when it is final."""
    live_lines: rx.Field[list[CaptionLine]] = rx.field([])
    """Lines still being spoken (or tools still running), shown after ``lines``.

    Each interim word changes only this short list: Reflex sends a changed var whole, so keeping
    words in ``lines`` sent the whole conversation again for every word (~11 KB per word after
    80 lines, measured in `tests/unit/test_talk_state.py`).
    """
    latencies: rx.Field[list[TurnLatency]] = rx.field([])
    camera_on: bool = False
    screen_share_on: bool = False
    outgoing_chat: dict[str, Any] = {"id": 0, "text": ""}
    push_to_talk: bool = False
    """The user chose push-to-talk (settings page): the page shows the hold-to-talk button."""

    _chat_count: int = 0
    _line_order: dict[str, int] = rx.field(default_factory=dict[str, int], is_var=False)
    """Each line's place in the conversation (the order lines began), by id."""

    @rx.var
    def stage_label(self) -> str:
        """The stage in words."""
        return STAGES.get(self.stage, STAGES["idle"]).label

    @rx.var
    def stage_color(self) -> StageColor:
        """The stage's colour (a Radix colour scale)."""
        return STAGES.get(self.stage, STAGES["idle"]).color

    @rx.var
    def busy_starting(self) -> bool:
        """Whether Start was pressed and the token is being fetched."""
        return self.stage == "connecting" and not self.connect

    @rx.var
    def problem_title(self) -> str:
        """The current problem's headline, or empty."""
        return PROBLEMS[self.problem].title if self.problem in PROBLEMS else ""

    @rx.var
    def problem_message(self) -> str:
        """What happened and what to do about it, or empty."""
        if self.problem == "limit_reached" and self.limit_detail:
            return self.limit_detail
        return PROBLEMS[self.problem].message if self.problem in PROBLEMS else ""

    @rx.var
    def problem_ends_session(self) -> bool:
        """Whether the problem ended the conversation (so the way out is Try again)."""
        return self.problem in PROBLEMS and PROBLEMS[self.problem].ends_session

    def _clear_conversation(self) -> None:
        self.stage = "idle"
        self.llm_provider = ""
        self.server_url = self.livekit_token = self.room_name = ""
        self.connect = False
        self.problem = ""
        self.lines = []
        self.live_lines = []
        self._line_order = {}
        self.latencies = []
        self.camera_on = self.screen_share_on = False
        self.outgoing_chat = {"id": 0, "text": ""}
        self.push_to_talk = False
        self._chat_count = 0

    def _report_problem(self, kind: str) -> None:
        """Show ``kind``; a problem that ends the session also leaves the room."""
        kind = kind if kind in PROBLEMS else "connect_failed"
        logger.warning("Talk page problem", extra={"problem": kind})
        self.problem = kind
        if PROBLEMS[kind].ends_session:
            self.connect = False
            self.stage = "failed"

    @rx.event
    def reset_on_load(self) -> None:
        """A freshly loaded page has no conversation: one left running before a reload is over."""
        self._clear_conversation()

    @rx.event
    async def start_conversation(self) -> AsyncIterator[EventCallback[()] | None]:
        """Get a token for a new room from the rooms service, then let the browser connect."""
        try:
            user = await self._signed_in_user()
        except auth_service.SessionInvalid:
            yield AuthState.check_login
            return
        self._clear_conversation()
        self.stage = "connecting"
        yield
        db = get_database()
        try:
            grant = await issue_token_for_room(db=db, user=user, room_name=None, settings=get_settings())
            preferences = await db.run(partial(get_preferences, user_id=user.id))
        except DatabaseUnavailable:
            self._report_problem("database_unreachable")
            return
        except LiveKitUnavailable:
            self._report_problem("livekit_unreachable")
            return
        except LimitExceeded as limit:
            self.limit_detail = limit.detail
            self._report_problem("limit_reached")
            return
        self.server_url = grant.server_url
        self.livekit_token = grant.token
        self.room_name = grant.room
        self.push_to_talk = preferences.push_to_talk
        self.connect = True

    @rx.event
    def end_conversation(self) -> None:
        """Leave the room; the agent worker ends its session and keeps the transcript."""
        self.connect = False
        self.stage = "disconnected"
        self.camera_on = self.screen_share_on = False

    @rx.event
    def dismiss_problem(self) -> None:
        """Hide a problem that did not end the conversation."""
        self.problem = ""

    @rx.event
    def send_chat(self, form_data: dict[str, Any]) -> None:
        """Hand a typed message to the session component, which sends it on ``lk.chat``."""
        text = str(form_data.get("message", "")).strip()[:CHAT_MESSAGE_MAX_CHARS]
        if not text or not self.connect:
            return
        self._chat_count += 1
        self.outgoing_chat = {"id": self._chat_count, "text": text}

    @rx.event
    def session_state_changed(self, report: dict[str, Any]) -> EventCallback[()] | None:
        """The session reports its stage (connecting, waiting, listening, ...).

        Connected without an agent for the first time, it starts the check for busy agents.
        """
        stage = report.get("stage")
        if not (self.connect and stage in _REPORTED_STAGES):
            return None
        first_wait = self.stage == "connecting" and stage == "waiting"
        self.stage = stage
        if self.problem in _AGENT_GONE and stage in ("listening", "thinking", "speaking"):
            self.problem = ""  # the new agent is here
        self.llm_provider = str(report.get("llm_provider") or "")
        return TalkState.check_agents_busy if first_wait else None

    def _still_waiting_in(self, room_name: str) -> bool:
        return self.connect and self.stage == "waiting" and self.room_name == room_name

    @rx.event(background=True)
    async def check_agents_busy(self) -> None:
        """Still no agent after `AGENT_BUSY_CHECK_SECONDS`: end the conversation if no worker took it.

        LiveKit never offers a job again that every worker refused (all full, or none running),
        so waiting out the join timeout would only leave the user in silence. A job a worker has
        accepted is left to that timeout: its agent may still be loading.
        """
        async with self:
            room_name = self.room_name
        await asyncio.sleep(AGENT_BUSY_CHECK_SECONDS)
        async with self:
            if not self._still_waiting_in(room_name):
                return
            try:
                user = await self._signed_in_user()
            except (auth_service.SessionInvalid, DatabaseUnavailable):
                return
        try:
            status = await agent_dispatch_status(
                db=get_database(), user=user, room_name=room_name, settings=get_settings()
            )
        except (LiveKitUnavailable, DatabaseUnavailable):
            return  # the session itself reports what the user needs to know
        if status != "waiting_for_worker":
            return
        async with self:
            if self._still_waiting_in(room_name):
                self._report_problem("agents_busy")

    @rx.event
    def transcript_changed(self, changed: list[dict[str, Any]]) -> None:
        """Add new caption lines and update changed ones in place (a segment grows as it is spoken)."""
        self._put_lines(
            CaptionLine(
                id=str(item.get("id", "")),
                role="user" if item.get("role") == "user" else "agent",
                source="typed" if item.get("source") == "typed" else "spoken",
                text=str(item.get("text", "")),
                final=bool(item.get("final", False)),
            )
            for item in changed
        )

    @rx.event
    def tool_reported(self, report: dict[str, Any]) -> None:
        """A tool call of the agent: shown while it runs ("Looking through…"), then its result."""
        call_id = f"tool-{report.get('id', '')}"
        text = str(report.get("text", ""))[:TOOL_TEXT_MAX_CHARS]
        if report.get("status") == "running":
            self._put_lines([CaptionLine(id=call_id, role="tool", source="call", text=text, final=False)])
            return
        call = next((line for line in self.live_lines + self.lines if line.id == call_id), None)
        finished = [CaptionLine(id=f"{call_id}-result", role="tool", source="result", text=text, final=True)]
        if call is not None:
            finished.insert(
                0, CaptionLine(id=call_id, role="tool", source="call", text=call.text, final=True)
            )
        self._put_lines(finished)

    def _put_lines(self, changed: Iterable[CaptionLine]) -> None:
        """Update lines in place, moving each to ``lines`` when it is final (see ``live_lines``)."""
        finished = {line.id: line for line in self.lines}
        live = {line.id: line for line in self.live_lines}
        for line in changed:
            self._line_order.setdefault(line.id, len(self._line_order))
            if line.final:
                live.pop(line.id, None)
                finished[line.id] = line
            elif line.id not in finished:  # a finished line does not become live again
                live[line.id] = line
        in_order = self._line_order.__getitem__
        new_lines = sorted(finished.values(), key=lambda line: in_order(line.id))
        new_live = sorted(live.values(), key=lambda line: in_order(line.id))
        if new_lines != self.lines:
            self.lines = new_lines
        if new_live != self.live_lines:
            self.live_lines = new_live

    @rx.event
    def session_failed(self, report: dict[str, Any]) -> EventCallback[()] | list[EventCallback[()]] | None:
        """The session reports a failure (connection, token, microphone, agent, chat).

        Ignored once the conversation is over: the library's agent-join timer can outlive the
        room it was started for, and would replace the problem that ended it. A lost agent starts
        the wait for its replacement.
        """
        if not self.connect:
            return None
        kind = str(report.get("kind", ""))
        if kind == "device_failed":
            kind = device_problem(str(report.get("source", "")), str(report.get("error_name", "")))
        self._report_problem(kind)
        if kind == "agent_silent":
            return [TalkState.wait_for_new_agent, TalkState.recover_silent_agent]
        return TalkState.wait_for_new_agent if kind == "agent_lost" else None

    @rx.event(background=True)
    async def recover_silent_agent(self) -> None:
        """The agent's heartbeat stopped: have the backend check it and send a new agent.

        If the backend finds it beating after all (a slow moment, not a loss), the notice goes.
        """
        async with self:
            room_name = self.room_name
            try:
                user = await self._signed_in_user()
            except (auth_service.SessionInvalid, DatabaseUnavailable):
                return  # the wait for a new agent ends the conversation if none comes
        try:
            outcome = await recover_silent_agent(
                db=get_database(), user=user, room_name=room_name, settings=get_settings()
            )
        except (LiveKitUnavailable, DatabaseUnavailable, RoomNotFound, RoomNotOwned):
            return
        if outcome == "alive":
            async with self:
                if self.connect and self.room_name == room_name and self.problem == "agent_silent":
                    self.problem = ""

    @rx.event(background=True)
    async def wait_for_new_agent(self) -> None:
        """No new agent `AGENT_RETURN_TIMEOUT_SECONDS` after one was lost: end the conversation."""
        async with self:
            room_name = self.room_name
        await asyncio.sleep(AGENT_RETURN_TIMEOUT_SECONDS)
        async with self:
            if self.connect and self.room_name == room_name and self.problem in _AGENT_GONE:
                self._report_problem("agent_left")

    @rx.event
    def session_disconnected(self, report: dict[str, Any]) -> None:
        """The room was left: by End, or because the network or the server ended it."""
        if report.get("requested") or not self.connect:
            return
        reason = str(report.get("reason", ""))
        self._report_problem("ended_by_server" if reason in _SERVER_CLOSED_REASONS else "network_dropped")

    @rx.event
    def latency_received(self, message: dict[str, Any]) -> None:
        """Add one turn's latency (the agent worker's ``turn_latency`` message) to the details."""
        if message.get("type") != LATENCY_MESSAGE_TYPE:
            return
        self.latencies = [
            *self.latencies,
            TurnLatency(
                turn=len(self.latencies) + 1,
                input="typed" if message.get("input") == "typed" else "spoken",
                end_of_turn=_milliseconds(message.get("end_of_turn_ms")),
                stt=_milliseconds(message.get("stt_ms")),
                llm_ttft=_milliseconds(message.get("llm_ttft_ms")),
                llm_first_sentence=_milliseconds(message.get("llm_first_sentence_ms")),
                tts_ttfb=_milliseconds(message.get("tts_ttfb_ms")),
                e2e=_milliseconds(message.get("e2e_ms")),
            ),
        ]

    @rx.event
    def track_changed(self, source: str, enabled: bool) -> None:
        """A microphone, camera or screen-share toggle changed."""
        if source == "microphone":
            if enabled and self.problem.startswith("microphone_"):
                self.problem = ""
        elif source == "camera":
            self.camera_on = enabled
        elif source == "screen_share":
            self.screen_share_on = enabled

    @rx.event
    def device_failed(self, source: str, error_name: str) -> None:
        """A device could not be opened; say which and what to do."""
        self._report_problem(device_problem(source, error_name))
