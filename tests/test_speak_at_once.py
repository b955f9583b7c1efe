"""A user who talks the moment they press Start is heard: what they say before the agent has
joined is kept by LiveKit's pre-connect audio buffer (recorded in the browser, sent to the agent
when it joins) and transcribed and answered like the rest.

Headless Chromium against the real app, livekit-server and agent worker. The browser's
microphone is a WAV file that starts speaking as soon as the page opens the microphone, which
the page does when Start is pressed, while it connects.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from agent_worker import prompts
from tests.support.browser import AppServer, fake_microphone_args, launch_chromium
from tests.support.processes import wait_until
from tests.support.speech import QUESTIONS, fake_microphone_recording, word_accuracy, words
from tests.support.worker import AgentWorker
from tests.test_talk_page import (
    AGENT_TIMEOUT_MS,
    USER_SPOKEN,
    Screenshots,
    _page_in_new_context,
    caption_text,
    registered_user,
    sign_in,
    start_conversation,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUESTION = QUESTIONS[0]
SPOKEN_BEFORE_THE_AGENT_JOINED_MS = 250
"""The question starts 0.1 s after the microphone opens, so with the agent in the room no sooner
than this, its first words are said before the agent is there (and until the agent listens to
the microphone, a moment later, only the pre-connect buffer holds them)."""

PRE_CONNECT_RECORDING_DROPPED = (
    "ignoring byte stream with topic 'lk.agent.pre-connect-audio-buffer'",
    "timeout waiting for pre-connect audio buffer",
    "pre-connect audio buffer is too old",
)
"""What livekit-agents logs when the recording arrived before its handler, or not at all."""

# Records when the page opened the microphone (the WAV starts speaking then) and when the agent
# was first in the room (the status shows an agent state), on the page's own clock.
RECORD_TIMES = """
window.__micOpenedAt = null;
window.__agentJoinedAt = null;
const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = async (constraints) => {
  const stream = await getUserMedia(constraints);
  if (constraints && constraints.audio && window.__micOpenedAt === null) window.__micOpenedAt = performance.now();
  return stream;
};
new MutationObserver(() => {
  const status = document.getElementById("talk-status");
  if (window.__agentJoinedAt === null && status && ["listening", "thinking", "speaking"].includes(status.dataset.stage)) {
    window.__agentJoinedAt = performance.now();
  }
}).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
"""


@pytest.fixture(scope="module")
def question_at_once_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``QUESTION`` from the first tenth of a second, then silence."""
    return fake_microphone_recording(QUESTION, tmp_path_factory.mktemp("speak-at-once"), before_seconds=0.1)


@pytest.fixture(scope="module")
def chromium_speaking_at_once(playwright, question_at_once_wav: Path) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    browser = launch_chromium(playwright, fake_microphone_args(question_at_once_wav))
    yield browser
    browser.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.name)


@pytest.fixture
def page(chromium_speaking_at_once: Browser, shots: Screenshots) -> Iterator[Page]:
    yield from _page_in_new_context(chromium_speaking_at_once, shots)


def test_speech_right_after_start_before_the_agent_joined_is_transcribed_and_answered(
    page: Page, app_server: AppServer, agent_worker: AgentWorker, shots: Screenshots
) -> None:
    page.add_init_script(RECORD_TIMES)
    worker_log_before = len(agent_worker.log())
    sign_in(page, app_server, registered_user(app_server, "Ada"))
    status = start_conversation(page, agent_worker)

    expect(status).to_have_attribute("data-stage", "listening", timeout=AGENT_TIMEOUT_MS)
    mic_opened, agent_joined = page.evaluate("[window.__micOpenedAt, window.__agentJoinedAt]")
    assert mic_opened is not None, "the page never opened the microphone"
    assert agent_joined is not None, "the agent never joined"
    spoken_before_join_ms = agent_joined - mic_opened
    assert spoken_before_join_ms >= SPOKEN_BEFORE_THE_AGENT_JOINED_MS, (
        f"the question started only {spoken_before_join_ms:.0f} ms before the agent joined"
    )

    heard_caption = page.locator(f'{USER_SPOKEN}[data-final="true"]').first
    expect(heard_caption).to_be_visible(timeout=AGENT_TIMEOUT_MS)
    heard = caption_text(heard_caption)
    shots.take(page, "heard")
    # The first words were said before the agent was in the room: only the pre-connect buffer
    # has them. The last ones come live.
    said = f"heard {heard!r}; {spoken_before_join_ms:.0f} ms of it was said before the agent joined"
    worker_log = agent_worker.log()[worker_log_before:]
    for dropped in PRE_CONNECT_RECORDING_DROPPED:
        assert dropped not in worker_log, f"the worker dropped the recording ({dropped!r}); {said}"
    assert words(heard)[:2] == words(QUESTION)[:2], said
    assert words(heard)[-2:] == words(QUESTION)[-2:], said
    assert word_accuracy(QUESTION, heard) >= 0.5, said

    greeting = prompts.greeting("Ada")
    after_question = page.locator(
        f'{USER_SPOKEN}[data-final="true"] ~ .caption[data-role="agent"] .caption-text'
    )

    def answered() -> bool:
        return any(
            text.strip() and not greeting.startswith(text.strip())
            for text in after_question.all_inner_texts()
        )

    wait_until(answered, timeout=AGENT_TIMEOUT_MS / 1000, what="the agent answering the question")
    shots.take(page, "answered")
    page.get_by_role("button", name="End", exact=True).click()
    expect(status).to_have_text("Disconnected")
