"""A team changes the product from `voice_app/app_settings.py`: the talk page, the agent's words
and the Markdown/JSON downloads follow, and a mistake is refused with the field named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from agent_worker import prompts
from voice_app.app_settings import APP_SETTINGS, AppSettings
from voice_app.history import download
from voice_app.history.service import ConversationSummary, ConversationTranscript, TranscriptEntry


def test_the_agent_greets_with_the_teams_words_and_the_users_name() -> None:
    helpdesk = AppSettings(
        agent_greeting="Hi {name}, this is the helpdesk.", agent_greeting_without_name="Hi!"
    )
    assert prompts.greeting("Ada", helpdesk) == "Hi Ada, this is the helpdesk."
    assert prompts.greeting(None, helpdesk) == "Hi!"
    assert prompts.greeting("{name}", helpdesk) == "Hi {name}, this is the helpdesk."
    assert prompts.greeting("Ada") == "Hello Ada! I'm your voice assistant. What can I do for you?"
    assert APP_SETTINGS.agent_instructions == prompts.INSTRUCTIONS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("accent_color", "hot pink"),
        ("agent_greeting", "Hello {user}!"),
        ("agent_greeting", "Hello {"),
        ("start_button_text", ""),
        ("product_name", "x" * 41),
        ("offer_chat", "perhaps"),
        ("offer_videos", True),
    ],
)
def test_a_mistake_in_the_settings_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as refused:
        AppSettings(**{field: value})
    assert field in str(refused.value)


def test_pages_are_titled_with_the_product_name() -> None:
    assert AppSettings(product_name="Helpdesk").page_title("Talk") == "Talk · Helpdesk"
    assert AppSettings(product_name="Helpdesk").page_title() == "Helpdesk"


def test_the_talk_page_offers_only_the_controls_the_team_chose() -> None:
    from voice_app.talk.pages import _controls

    everything = str(_controls(AppSettings()))
    microphone_only = str(_controls(AppSettings(offer_camera=False, offer_screen_share=False)))
    assert "Share screen" in everything
    assert "Camera" in everything
    assert "Microphone" in microphone_only
    assert "Share screen" not in microphone_only
    assert "Camera" not in microphone_only


def test_a_markdown_download_quotes_what_was_said_so_it_cannot_become_markup() -> None:
    started = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    transcript = ConversationTranscript(
        conversation=ConversationSummary(
            id=7, room_name="talk-1", started_at=started, ended_at=None, message_count=2, preview=""
        ),
        messages=[
            TranscriptEntry(
                role="user", source="typed", text="# not a heading\n\nsecond", created_at=started
            ),
            TranscriptEntry(role="agent", source="spoken", text="Sure.", created_at=started),
        ],
    )
    markdown = download.as_markdown(transcript)
    assert "> # not a heading\n>\n> second" in markdown
    assert "- Ended: still open" in markdown
    assert download.download_filename(transcript, "json") == "conversation-7-2026-03-01.json"
