"""Reflex components for LiveKit: `@livekit/components-react`, and the small JSX file beside it.

Page authors use only the functions at the bottom of this module; everything is Python.

Straight from the npm package (no code of ours): :func:`room_audio_renderer` (plays the
agent's voice), :func:`start_audio` (the button a browser may demand before it plays sound),
:func:`track_toggle` (microphone, camera, screen share on/off).

From ``livekit_session.jsx`` (hooks that must run inside the room context):

- :func:`agent_session`: the session provider. While ``connect`` is true it joins
  ``server_url`` with ``token`` (both from a Python event handler; no secret reaches the
  browser), turns the microphone on with LiveKit's pre-connect buffer, fails the agent after
  ``agent_timeout_ms`` if it has not joined, and sends ``outgoing_chat`` on ``lk.chat`` each
  time its ``id`` changes. Once connected it sets the participant attribute
  ``time_zone_attribute`` to the browser's IANA time zone (the agent's clock tool reads it).
  Setting ``connect`` to false leaves the room. Give it a ``key``
  per conversation: one mounted instance is one LiveKit room. Events, each with one argument:

  - ``on_state_change({"stage", "agent_state", "llm_provider"})``: ``stage`` is ``connecting``,
    ``waiting`` (connected, agent not ready), ``listening``, ``thinking``, ``speaking`` or
    ``reconnecting``; ``agent_state`` is the raw ``lk.agent.state`` of the agent participant;
    ``llm_provider`` its ``llm_provider_attribute``.
  - ``on_transcript([{"id", "role", "source", "text", "final"}])``: the lines that are new or
    changed since the last call. ``role`` is ``user`` or ``agent``; ``source`` is ``spoken``
    (``lk.transcription``, keyed by ``lk.segment_id``) or ``typed`` (``lk.chat``).
  - ``on_error({"kind", "detail"})``: ``kind`` is one of ``token_expired``,
    ``token_rejected``, ``livekit_unreachable``, ``connect_failed``, ``agent_timeout``,
    ``agent_lost`` (a new agent is expected), ``agent_silent`` (the agent's
    ``heartbeat_attribute`` has not changed for ``agent_silent_after_ms``; ``detail`` is its
    identity), ``agent_left``, ``chat_failed``, or ``device_failed`` with ``source``
    (``microphone``) and ``error_name`` (the browser's, classified in Python); otherwise
    ``detail`` is the library's message, for logs only.
  - ``on_latency(message)``: each per-turn latency message the agent worker publishes on
    ``latency_topic`` (format: ``agent_worker/latency.py``).
  - ``on_tool({"id", "name", "status", "text"})``: each report of a tool call the agent
    publishes on ``tool_topic`` (format: ``agent_worker/tools/reporting.py``).

  The wire names (``latency_topic``, ``llm_provider_attribute``, ``heartbeat_attribute``, ...)
  and times (``agent_timeout_ms``, ``agent_silent_after_ms``) default to those of
  ``voice_app.protocol``, which the agent worker uses too.
  - ``on_disconnected({"reason", "requested"})``: the room was left after having connected;
    ``reason`` is the name of LiveKit's ``DisconnectReason``, ``requested`` is true when
    ``connect`` went false first (the user pressed End).

- :func:`agent_visualizer`: audio bars following the agent's voice and state (style the
  ``.lk-audio-bar`` children and ``[data-lk-va-state]`` from Python).
- :func:`video_tile`: the video of ``"camera"`` (self view), ``"screen_share"`` or
  ``"agent"``; renders nothing while that track is off.
- :func:`device_select`: a labelled native ``<select>`` of microphones, cameras or speakers.

Versions: ``@livekit/components-react`` 2.9.24 (the newest 2.x, with ``useSession``/
``useAgent``). Its own dependency ``@livekit/components-core`` 0.12.15 and itself both take
``livekit-client`` as a *peer* dependency (``^2.20.1``), so pinning ``livekit-client`` here
leaves exactly one copy in the bundle. 3.0.0 on npm is older inside (components-core 0.9.2,
none of the agent hooks) and is not used.

All of these are ``NoSSRComponent``: the LiveKit code is loaded on demand, when a session is
first shown, so pages that never start one do not download it.
"""

from __future__ import annotations

from typing import Any, Literal

import reflex as rx
from reflex.event import passthrough_event_spec
from reflex.vars import ObjectVar

from voice_app import protocol

COMPONENTS_REACT = "@livekit/components-react@2.9.24"
LIVEKIT_CLIENT = "livekit-client@2.23.0"

TrackSource = Literal["microphone", "camera", "screen_share"]

_SESSION_JSX = rx.asset("livekit_session.jsx", shared=True)


def _error_name(error: ObjectVar[dict[str, Any]]) -> tuple[rx.Var[str]]:
    """A device error reaches Python as the DOMException's name (``NotAllowedError`` ...)."""
    return (rx.Var(f"({error}?.name ?? 'Error')").to(str),)


class _ComponentsReact(rx.NoSSRComponent):
    """A component exported by ``@livekit/components-react``."""

    library = COMPONENTS_REACT
    lib_dependencies: list[str] = [LIVEKIT_CLIENT]


class _SessionJsx(rx.NoSSRComponent):
    """A component exported by ``livekit_session.jsx``."""

    library = _SESSION_JSX.importable_path
    lib_dependencies: list[str] = [COMPONENTS_REACT, LIVEKIT_CLIENT]


class RoomAudioRenderer(_ComponentsReact):
    """Plays every remote audio track of the room (the agent's voice)."""

    tag = "RoomAudioRenderer"

    volume: rx.Var[float]
    muted: rx.Var[bool]


class StartAudio(_ComponentsReact):
    """A button shown only while the browser blocks sound until the user clicks."""

    tag = "StartAudio"

    label: rx.Var[str]


class TrackToggle(_ComponentsReact):
    """A button (``aria-pressed``) that turns one of the user's tracks on or off."""

    tag = "TrackToggle"

    source: rx.Var[str]
    show_icon: rx.Var[bool]
    initial_state: rx.Var[bool]

    on_change: rx.EventHandler[passthrough_event_spec(bool, bool)]
    """``(enabled, user_initiated)`` whenever the track turns on or off."""
    on_device_error: rx.EventHandler[_error_name]
    """The name of the browser's error when the device could not be opened."""


class AgentSession(_SessionJsx):
    """The LiveKit session provider with its reporting bridge (see the module docstring)."""

    tag = "AgentSession"

    server_url: rx.Var[str]
    token: rx.Var[str]
    connect: rx.Var[bool]
    agent_timeout_ms: rx.Var[int]
    outgoing_chat: rx.Var[dict[str, Any]]
    latency_topic: rx.Var[str]
    llm_provider_attribute: rx.Var[str]
    tool_topic: rx.Var[str]
    time_zone_attribute: rx.Var[str]
    heartbeat_attribute: rx.Var[str]
    agent_silent_after_ms: rx.Var[int]

    on_state_change: rx.EventHandler[passthrough_event_spec(dict[str, Any])]
    on_transcript: rx.EventHandler[passthrough_event_spec(list[dict[str, Any]])]
    on_error: rx.EventHandler[passthrough_event_spec(dict[str, Any])]
    on_latency: rx.EventHandler[passthrough_event_spec(dict[str, Any])]
    on_tool: rx.EventHandler[passthrough_event_spec(dict[str, Any])]
    on_disconnected: rx.EventHandler[passthrough_event_spec(dict[str, Any])]


class AgentVisualizer(_SessionJsx):
    """Bars following the agent's voice; ``data-lk-va-state`` carries the agent state."""

    tag = "AgentVisualizer"

    bar_count: rx.Var[int]


class VideoTile(_SessionJsx):
    """A ``<video>`` of the user's camera, their screen share, or the agent's video."""

    tag = "VideoTile"

    source: rx.Var[str]


class DeviceSelect(_SessionJsx):
    """A labelled ``<select>`` of devices of one kind; choosing one switches the room to it."""

    tag = "DeviceSelect"

    kind: rx.Var[str]
    label: rx.Var[str]
    select_class_name: rx.Var[str]


def agent_session(*children: rx.Component, **props: Any) -> rx.Component:
    """The session provider; children can use the other components of this module."""
    props.setdefault("latency_topic", protocol.LATENCY_TOPIC)
    props.setdefault("llm_provider_attribute", protocol.LLM_PROVIDER_ATTRIBUTE)
    props.setdefault("agent_timeout_ms", protocol.AGENT_JOIN_TIMEOUT_SECONDS * 1000)
    props.setdefault("tool_topic", protocol.TOOL_TOPIC)
    props.setdefault("time_zone_attribute", protocol.TIME_ZONE_ATTRIBUTE)
    props.setdefault("heartbeat_attribute", protocol.HEARTBEAT_ATTRIBUTE)
    props.setdefault("agent_silent_after_ms", int(protocol.AGENT_SILENT_AFTER_SECONDS * 1000))
    return AgentSession.create(*children, **props)


def room_audio_renderer(**props: Any) -> rx.Component:
    """Plays the agent's voice (put it once inside :func:`agent_session`)."""
    return RoomAudioRenderer.create(**props)


def start_audio(label: str = "Allow audio", **props: Any) -> rx.Component:
    """The button a browser may require before it plays the agent's voice."""
    return StartAudio.create(label=label, **props)


def track_toggle(*children: rx.Component | str, source: TrackSource, **props: Any) -> rx.Component:
    """A toggle button for the user's ``source`` track; ``children`` are its label."""
    props.setdefault("show_icon", True)
    return TrackToggle.create(*children, source=source, **props)


def agent_visualizer(bar_count: int = 5, **props: Any) -> rx.Component:
    """Audio bars for the agent's voice, coloured by its state from Python styles."""
    return AgentVisualizer.create(bar_count=bar_count, **props)


def video_tile(source: Literal["camera", "screen_share", "agent"], **props: Any) -> rx.Component:
    """The video of the user's camera, their screen share or the agent; nothing while it is off."""
    return VideoTile.create(source=source, **props)


def device_select(
    kind: Literal["audioinput", "videoinput", "audiooutput"], label: str, **props: Any
) -> rx.Component:
    """A labelled list of the user's devices of ``kind``; picking one switches to it."""
    return DeviceSelect.create(kind=kind, label=label, **props)
