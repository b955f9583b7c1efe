"""The talk page's push-to-talk button, from ``push_to_talk.jsx`` beside this module.

Rendered inside :func:`voice_app.talk.livekit_components.agent_session`. While it is held (by
pointer, or the space bar anywhere on the page outside a text field or another control) the agent
hears the user; releasing it ends the user's turn. The RPC method names are the agent worker's
(``agent_worker/push_to_talk.py``). ``on_error({"kind": "push_to_talk_failed", "detail"})`` when
the agent could not be reached.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import passthrough_event_spec

from voice_app.protocol import CANCEL_TURN, END_TURN, START_TURN
from voice_app.talk.livekit_components import COMPONENTS_REACT, LIVEKIT_CLIENT

_PUSH_TO_TALK_JSX = rx.asset("push_to_talk.jsx", shared=True)


class PushToTalkButton(rx.NoSSRComponent):
    """A ``<button aria-pressed>`` the user holds while speaking."""

    library = _PUSH_TO_TALK_JSX.importable_path
    lib_dependencies: list[str] = [COMPONENTS_REACT, LIVEKIT_CLIENT]
    tag = "PushToTalkButton"

    start_method: rx.Var[str]
    end_method: rx.Var[str]
    cancel_method: rx.Var[str]
    label: rx.Var[str]
    pressed_label: rx.Var[str]

    on_error: rx.EventHandler[passthrough_event_spec(dict[str, Any])]


def push_to_talk_button(**props: Any) -> rx.Component:
    """The hold-to-talk button, wired to the agent's turn methods."""
    return PushToTalkButton.create(
        start_method=START_TURN, end_method=END_TURN, cancel_method=CANCEL_TURN, **props
    )
