"""Push-to-talk, chosen per user: the agent hears only what is said while the button is held.

Real livekit-server, backend, database, the worker on the offline pipeline (local Whisper), and
a LiveKit client in the user's place pressing the button as the talk page does (RPC to the agent).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from tests.factories import sign_in
from tests.support.backend import Backend
from tests.support.speech import QUESTIONS, spoken_frame, word_accuracy
from tests.support.worker import AgentWorker
from tests.test_agent_worker import REPLY_TIMEOUT, talking
from voice_app.db import make_engine
from voice_app.memory.preferences import Preferences, set_preferences

pytestmark = pytest.mark.slow

OUTSIDE_THE_PRESS = QUESTIONS[3]
INSIDE_THE_PRESS = QUESTIONS[0]
QUIET_SECONDS = 8
"""How long after speaking outside the press nothing may be transcribed or answered."""


async def test_with_push_to_talk_speech_outside_the_press_is_not_heard_and_speech_inside_is(
    api: httpx.Client, agent_worker: AgentWorker, backend: Backend, tmp_path: Path
) -> None:
    user = sign_in(api, display_name="Pat")
    with Session(make_engine(backend.database_url)) as session:
        set_preferences(session=session, user_id=user.user_id, preferences=Preferences(push_to_talk=True))

    async with talking(api, user) as client:
        await client.wait_for("the agent listening", lambda: client.agent_states[-1][1] == "listening", 30)
        before = time.monotonic()
        await client.speak(spoken_frame(OUTSIDE_THE_PRESS, tmp_path))
        await asyncio.sleep(QUIET_SECONDS)
        heard_outside = client.user_transcripts(after=before, interim=True)
        answered_outside = client.agent_transcripts(after=before)

        await client.press_to_talk()
        await client.speak(spoken_frame(INSIDE_THE_PRESS, tmp_path))
        released = time.monotonic()
        await client.release_to_send()
        heard = await client.wait_for(
            "the pressed question transcribed", lambda: client.user_transcripts(), REPLY_TIMEOUT
        )
        reply = await client.wait_for(
            "a reply", lambda: client.agent_transcripts(after=released), REPLY_TIMEOUT
        )

    assert heard_outside == [], [t.text for t in heard_outside]
    assert answered_outside == [], [t.text for t in answered_outside]
    assert word_accuracy(INSIDE_THE_PRESS, heard[-1].text) >= 0.75, heard[-1].text
    assert reply[0].text
