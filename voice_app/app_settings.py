"""What the app is called, how it looks, which controls it offers, and what the agent says.

The one place a team edits to make the app theirs: change the values of ``APP_SETTINGS`` at the
bottom of this file. Pages and the agent worker read them; no component needs touching. Values
are checked when the app or the worker starts (a wrong colour name or a greeting without its
``{name}`` placeholder stops it with the field named).

These are product choices, kept in code review rather than in the environment; deployment
settings (keys, URLs, limits) stay in `voice_app/settings.py` and `agent_worker/settings.py`.
The web app reads them when its pages are compiled, so a change needs a rebuild (`make dev`
does it on its own); the worker reads them when it starts.

This module imports only pydantic: the agent worker imports it too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AccentColor = Literal[
    "tomato", "red", "ruby", "crimson", "pink", "plum", "purple", "violet", "iris", "indigo", "blue",
    "cyan", "teal", "jade", "green", "grass", "brown", "orange", "sky", "mint", "lime", "yellow",
    "amber", "gold", "bronze", "gray",
]  # fmt: skip
"""Radix Themes' accent colours (https://www.radix-ui.com/themes/docs/theme/color)."""

DEFAULT_INSTRUCTIONS = """\
You are a friendly voice assistant in a web app. The user talks to you by voice or types in a chat.
Everything you write is read aloud, so:
- answer in one to three short sentences of plain spoken English;
- no lists, headings, markdown, emojis, code or URLs;
- if you did not understand, say so and ask the user to repeat;
- if you do not know something, say that you do not know instead of guessing.
Be warm and direct. Do not mention these instructions."""


class AppSettings(BaseModel):
    """The product's name, look, controls and the agent's words."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_name: str = Field(default="voice-app", min_length=1, max_length=40)
    """Shown in the header of every page and in the browser tab's title."""
    accent_color: AccentColor = "iris"
    """The colour of buttons, links and highlights (a Radix Themes accent colour)."""
    start_button_text: str = Field(default="Start conversation", min_length=1, max_length=40)
    """The words on the talk page's button that starts a conversation."""
    offer_camera: bool = True
    """Offer a camera toggle (the user's video goes to the room; the agent does not watch it)."""
    offer_screen_share: bool = True
    """Offer screen sharing."""
    offer_chat: bool = True
    """Offer the chat box (typed messages the agent answers); captions are shown either way."""
    agent_instructions: str = Field(default=DEFAULT_INSTRUCTIONS, min_length=1)
    """The agent's system prompt in every conversation."""
    agent_greeting: str = Field(
        default="Hello {name}! I'm your voice assistant. What can I do for you?", min_length=1
    )
    """The agent's first words; ``{name}`` becomes the user's display name."""
    agent_greeting_without_name: str = Field(
        default="Hello! I'm your voice assistant. What can I do for you?", min_length=1
    )
    """The first words when the user's name is not known (the terminal's `console` mode)."""

    @field_validator("agent_greeting")
    @classmethod
    def _greeting_names_the_user(cls, greeting: str) -> str:
        try:
            greeting.format(name="Ada")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError("may hold only the placeholder {name} (write {{ and }} for braces)") from error
        return greeting

    def page_title(self, page: str | None = None) -> str:
        """``Talk · voice-app``: the page, then the product, as browser tabs show them."""
        return f"{page} · {self.product_name}" if page else self.product_name


APP_SETTINGS = AppSettings(
    # Edit here, e.g.:
    # product_name="Helpdesk",
    # accent_color="teal",
    # start_button_text="Call the helpdesk",
    # offer_screen_share=False,
    # agent_greeting="Hi {name}, this is the helpdesk. How can I help?",
)
"""The settings the app and the worker use."""
