"""Reflex components from ``session_requests.jsx``: the requests that set and clear the cookie.

They are sent by the page itself (`voice_app.auth.browser_session` says why they cannot be
Reflex events).

- :func:`session_form`: a ``<form>`` that posts its named fields as JSON to ``action`` (a
  backend path, e.g. `BROWSER_LOGIN_PATH`) with the browser's cookies. On success the browser
  loads ``next_path`` afresh; otherwise ``on_refused({"status", "detail", "errors"})`` gets the
  API's answer (``status`` 0 when the server was not reached; ``errors`` as in a 422 body).
- :func:`sign_out`: renders nothing; once mounted it posts ``action`` (`BROWSER_LOGOUT_PATH`)
  and then calls ``on_done({"ok"})``.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import passthrough_event_spec

from voice_app.auth.browser_api import BROWSER_AUTH_PREFIX

BROWSER_LOGIN_PATH = f"{BROWSER_AUTH_PREFIX}/login"
BROWSER_REGISTER_PATH = f"{BROWSER_AUTH_PREFIX}/register"
BROWSER_LOGOUT_PATH = f"{BROWSER_AUTH_PREFIX}/logout"

_JSX = rx.asset("session_requests.jsx", shared=True)


class SessionForm(rx.Component):
    """The form that posts to a browser session route (see the module docstring)."""

    library = _JSX.importable_path
    tag = "SessionForm"

    action: rx.Var[str]
    next_path: rx.Var[str]

    on_refused: rx.EventHandler[passthrough_event_spec(dict[str, Any])]


class SignOut(rx.Component):
    """Ends the browser's session once mounted (see the module docstring)."""

    library = _JSX.importable_path
    tag = "SignOut"

    action: rx.Var[str]

    on_done: rx.EventHandler[passthrough_event_spec(dict[str, Any])]


def session_form(*children: rx.Component, action: str, **props: Any) -> rx.Component:
    """A form whose fields go to the browser session route ``action``."""
    return SessionForm.create(*children, action=action, **props)


def sign_out(**props: Any) -> rx.Component:
    """Signs this browser out when shown."""
    return SignOut.create(action=BROWSER_LOGOUT_PATH, **props)
