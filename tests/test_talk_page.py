"""The talk page in headless Chromium against the real app, livekit-server and agent worker.

The browser's microphone is a WAV file: eight seconds of silence (so the agent greets first),
then a question spoken by espeak-ng, then silence. Each step leaves a screenshot in
``test-artifacts/talk-page/``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from agent_worker import prompts
from tests.factories import DEFAULT_PASSWORD, random_email, register_user
from tests.support.browser import (
    ARTIFACTS_DIR,
    AppServer,
    block_microphone,
    fake_microphone_args,
    isolated_tree,
    launch_chromium,
)
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.processes import wait_until
from tests.support.speech import QUESTIONS, fake_microphone_recording, word_accuracy
from tests.support.worker import REGISTERED_LOG_LINE, AgentWorker
from voice_app import routes
from voice_app.protocol import AGENT_JOIN_TIMEOUT_SECONDS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPOKEN_QUESTION = QUESTIONS[0]
TYPED_QUESTION = QUESTIONS[3]
SILENCE_BEFORE_SPEECH_SECONDS = 8
PAGE_TIMEOUT_MS = 90_000  # the dev server compiles each page on its first visit
AGENT_TIMEOUT_MS = 120_000  # the offline models answer slowly on a busy 2-core machine
AGENTS_BUSY_WITHIN_SECONDS = 8

USER_SPOKEN = '.caption[data-role="user"][data-source="spoken"]'
USER_TYPED = '.caption[data-role="user"][data-source="typed"]'


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Silence, then ``SPOKEN_QUESTION`` in espeak-ng's voice at 48 kHz, then silence."""
    return fake_microphone_recording(
        SPOKEN_QUESTION, tmp_path_factory.mktemp("microphone"), before_seconds=SILENCE_BEFORE_SPEECH_SECONDS
    )


@pytest.fixture(scope="module")
def speaking_chromium(playwright, microphone_wav: Path) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """Chromium whose microphone says ``SPOKEN_QUESTION``."""
    browser = launch_chromium(playwright, fake_microphone_args(microphone_wav))
    yield browser
    browser.close()


class Screenshots:
    """Numbered screenshots of one test's steps in ``test-artifacts/talk-page/``."""

    def __init__(self, test_name: str) -> None:
        self._prefix = ARTIFACTS_DIR / "talk-page" / test_name
        self._prefix.parent.mkdir(parents=True, exist_ok=True)
        self._count = 0

    def take(self, page: Page, step: str) -> None:
        self._count += 1
        page.screenshot(path=f"{self._prefix}-{self._count:02d}-{step}.png", full_page=True)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.name)


MEDIA_PERMISSIONS = ("microphone", "camera")


def _page_in_new_context(
    browser: Browser, shots: Screenshots, permissions: tuple[str, ...] = MEDIA_PERMISSIONS
) -> Iterator[Page]:
    """A page in a context of its own (granted ``permissions``); the last screenshot on the way out."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, permissions=list(permissions))
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    yield page
    shots.take(page, "final")
    context.close()


@pytest.fixture
def page(speaking_chromium: Browser, shots: Screenshots) -> Iterator[Page]:
    yield from _page_in_new_context(speaking_chromium, shots)


def at(path: str) -> re.Pattern[str]:
    return re.compile(rf"^https?://[^/]+{re.escape(path)}$")


def sign_in(page: Page, app: AppServer, email: str, *, next_path: str = routes.TALK) -> None:
    page.goto(f"{app.frontend_url}{routes.LOGIN}?next={next_path}")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(at(next_path))


def registered_user(app: AppServer, display_name: str) -> str:
    """A new account, made through the app's API; returns its email."""
    with httpx.Client(base_url=app.backend_url, timeout=30) as api:
        return register_user(api, display_name=display_name)["email"]


def wait_for_idle_worker(worker: AgentWorker) -> None:
    """The worker has no conversation and has finished warming its next job process.

    While it loads the offline models for a new process its load is near 1, and LiveKit sends
    new rooms to no worker at all; a user would then see "the agent did not join".
    """
    url = f"http://127.0.0.1:{worker.env['WORKER_HTTP_PORT']}/worker"

    def idle() -> bool:
        info = httpx.get(url, timeout=2).json()
        return int(info.get("active_jobs", 0)) == 0 and float(info.get("worker_load", 0.0)) < 0.5

    wait_until(idle, timeout=180, what="the agent worker being idle")


def caption_text(caption: Locator) -> str:
    return caption.locator(".caption-text").inner_text()


def agent_reply_after(page: Page, user_caption_selector: str) -> Locator:
    """The first agent caption that comes after the user's caption."""
    return page.locator(f'{user_caption_selector} ~ .caption[data-role="agent"] .caption-text').first


def start_conversation(page: Page, worker: AgentWorker) -> Locator:
    """Press Start (from the keyboard) once the worker can take the conversation; returns the status."""
    start = page.get_by_role("button", name="Start conversation")
    expect(start).to_be_enabled()
    wait_for_idle_worker(worker)
    start.focus()
    page.keyboard.press("Enter")
    return page.locator("#talk-status")


def test_a_new_user_talks_with_the_agent_and_finds_the_conversation_in_history(
    page: Page, app_server: AppServer, agent_worker: AgentWorker, shots: Screenshots
) -> None:
    email = random_email()
    page.goto(app_server.frontend_url + routes.SIGNUP)
    page.locator("#display_name").fill("Ada")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(lambda address: routes.SIGNUP not in address)
    page.goto(app_server.frontend_url + routes.LOGOUT)
    expect(page.get_by_text("You are signed out")).to_be_visible()

    sign_in(page, app_server, email)
    shots.take(page, "signed-in")
    status = start_conversation(page, agent_worker)

    expect(status).to_have_text("Listening", timeout=AGENT_TIMEOUT_MS)
    greeting = page.locator('.caption[data-role="agent"] .caption-text').first
    expect(greeting).to_contain_text("Hello Ada!", timeout=AGENT_TIMEOUT_MS)
    expect(page.locator("#offline-model-notice")).to_contain_text("small offline model")
    shots.take(page, "greeted")

    spoken = page.locator(f'{USER_SPOKEN}[data-final="true"]').first
    expect(spoken).to_be_visible(timeout=AGENT_TIMEOUT_MS)
    heard = caption_text(spoken)
    assert word_accuracy(SPOKEN_QUESTION, heard) >= 0.75, f"caption was {heard!r}"
    reply = agent_reply_after(page, USER_SPOKEN)
    expect(reply).not_to_be_empty(timeout=AGENT_TIMEOUT_MS)
    expect(status).to_have_text("Listening", timeout=AGENT_TIMEOUT_MS)
    reply_text, greeting_text = reply.inner_text(), greeting.inner_text()
    shots.take(page, "agent-replied")

    page.get_by_role("button", name="End", exact=True).click()
    expect(status).to_have_text("Disconnected")
    expect(page.get_by_role("button", name="Start conversation")).to_be_visible()
    shots.take(page, "ended")

    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "page scrolls sideways"
    shots.take(page, "phone-dark")
    page.set_viewport_size({"width": 1280, "height": 860})
    page.emulate_media(color_scheme="light")

    page.reload()
    expect(page.get_by_role("button", name="Start conversation")).to_be_visible()
    page.get_by_role("link", name="History", exact=True).click()
    page.wait_for_url(at(routes.HISTORY))
    conversation = page.locator("li.conversation").first
    expect(conversation).to_contain_text(heard[:40])
    shots.take(page, "history")

    conversation.get_by_role("link").click()
    transcript = page.locator("#transcript")
    expect(transcript.locator('[data-role="agent"] .message-text').first).to_have_text(greeting_text)
    expect(transcript).to_contain_text(heard)
    expect(transcript).to_contain_text(reply_text)
    shots.take(page, "history-transcript")


def test_a_typed_message_gets_an_agent_reply_in_the_transcript(
    page: Page, app_server: AppServer, agent_worker: AgentWorker, shots: Screenshots
) -> None:
    sign_in(page, app_server, registered_user(app_server, "Grace"))
    status = start_conversation(page, agent_worker)

    microphone = page.get_by_role("button", name="Microphone")
    expect(microphone).to_have_attribute("aria-pressed", "true", timeout=AGENT_TIMEOUT_MS)
    microphone.click()  # muted: the fake microphone's question must not be heard in this test
    expect(microphone).to_have_attribute("aria-pressed", "false")
    expect(page.locator('.caption[data-role="agent"]').first).to_contain_text(
        "Grace", timeout=AGENT_TIMEOUT_MS
    )
    expect(status).to_have_text("Listening", timeout=AGENT_TIMEOUT_MS)

    message = page.get_by_label("Message to the agent")
    message.fill(TYPED_QUESTION)
    message.press("Enter")
    expect(page.locator(f"{USER_TYPED} .caption-text")).to_have_text(TYPED_QUESTION)
    expect(message).to_have_value("")
    expect(agent_reply_after(page, USER_TYPED)).not_to_be_empty(timeout=AGENT_TIMEOUT_MS)
    expect(page.locator(USER_SPOKEN)).to_have_count(0)

    page.locator("#latency-details summary").click()
    expect(page.locator("#latency-details tbody")).to_contain_text("typed", timeout=AGENT_TIMEOUT_MS)
    shots.take(page, "typed-reply")

    camera = page.get_by_role("button", name="Camera")
    camera.click()
    expect(camera).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_label("Your camera (self view)")).to_be_visible()
    shots.take(page, "camera-on")

    page.get_by_role("button", name="End", exact=True).click()
    expect(status).to_have_text("Disconnected")


@pytest.fixture
def app_on_own_livekit(
    tmp_path: Path, own_livekit_server: LiveKitServer, database_url: str
) -> Iterator[AppServer]:
    """A second app in a tree of its own (the session's app stays on the shared livekit-server),
    on a livekit-server that the test may stop and that no agent worker serves unless the test
    starts one."""
    tree = isolated_tree(tmp_path)
    app = AppServer(tmp_path, own_livekit_server, database_url=database_url, tree=tree)
    try:
        yield app.start()
    finally:
        app.stop()
        shutil.rmtree(tree, ignore_errors=True)  # a copy of .web, a few hundred MB


@pytest.fixture(scope="module")
def quiet_chromium(playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """Chromium whose microphone is silent: the default fake device beeps, and a beep heard as
    speech can interrupt the agent mid-word (tests of what the agent says need it quiet)."""
    silence = tmp_path_factory.mktemp("quiet-microphone") / "silence.wav"
    with wave.open(str(silence), "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(48_000)
        recording.writeframes(b"\x00\x00" * 48_000)
    browser = launch_chromium(playwright, fake_microphone_args(silence))
    yield browser
    browser.close()


@pytest.fixture
def quiet_page(quiet_chromium: Browser, shots: Screenshots) -> Iterator[Page]:
    yield from _page_in_new_context(quiet_chromium, shots)


@pytest.fixture
def plain_page(chromium: Browser, shots: Screenshots) -> Iterator[Page]:
    """A page whose microphone is Chromium's default fake device (a beep)."""
    yield from _page_in_new_context(chromium, shots)


def test_with_no_agent_free_or_livekit_down_the_page_says_so_at_once_and_offers_a_retry(
    app_on_own_livekit: AppServer, plain_page: Page, own_livekit_server: LiveKitServer, shots: Screenshots
) -> None:
    page = plain_page
    sign_in(page, app_on_own_livekit, registered_user(app_on_own_livekit, "Linus"))
    start = page.get_by_role("button", name="Start conversation")
    expect(start).to_be_enabled()
    started = time.monotonic()
    start.click()
    status = page.locator("#talk-status")
    expect(status).to_have_text("Waiting for the agent…")
    problem = page.locator("#talk-problem")
    expect(problem).to_contain_text("All agents are busy", timeout=AGENTS_BUSY_WITHIN_SECONDS * 1000)
    told_after = time.monotonic() - started
    assert told_after < AGENTS_BUSY_WITHIN_SECONDS, f"told after {told_after:.1f} s"
    expect(problem).to_contain_text("Try again in a minute")
    expect(problem).to_have_attribute("role", "alert")
    expect(problem.get_by_role("button", name="Try again")).to_be_visible()
    expect(status).to_have_text("Disconnected")
    shots.take(page, "agents-busy")
    # The library's agent-join timer outlives the room it timed; its failure must not replace this.
    page.wait_for_timeout((started + AGENT_JOIN_TIMEOUT_SECONDS + 1 - time.monotonic()) * 1000)
    expect(problem).to_contain_text("All agents are busy")

    own_livekit_server.stop()
    problem.get_by_role("button", name="Try again").click()
    expect(problem).to_contain_text("The voice server is unreachable")
    expect(page.get_by_role("heading", name="Talk to the agent")).to_be_visible()
    expect(page.get_by_role("button", name="Start conversation")).to_be_enabled()
    shots.take(page, "livekit-unreachable")


@pytest.fixture(scope="module")
def chromium_that_asks(playwright) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """Chromium that applies its permission rules to the microphone instead of accepting."""
    browser = launch_chromium(playwright, accept_media_prompts=False)
    yield browser
    browser.close()


@pytest.fixture
def page_without_media_permissions(chromium_that_asks: Browser, shots: Screenshots) -> Iterator[Page]:
    """A page that has not been allowed the microphone or camera."""
    yield from _page_in_new_context(chromium_that_asks, shots, permissions=())


def test_with_the_microphone_blocked_the_page_says_how_to_fix_it_and_typing_still_works(
    page_without_media_permissions: Page,
    chromium_that_asks: Browser,
    app_server: AppServer,
    agent_worker: AgentWorker,
    shots: Screenshots,
) -> None:
    page = page_without_media_permissions
    block_microphone(chromium_that_asks)
    sign_in(page, app_server, registered_user(app_server, "Barbara"))
    status = start_conversation(page, agent_worker)

    problem = page.locator("#talk-problem")
    expect(problem).to_contain_text("The microphone is blocked", timeout=AGENT_TIMEOUT_MS)
    expect(problem).to_contain_text("type in the chat")
    expect(page.locator('.caption[data-role="agent"]').first).to_contain_text(
        "Barbara", timeout=AGENT_TIMEOUT_MS
    )
    expect(status).to_have_text("Listening", timeout=AGENT_TIMEOUT_MS)
    shots.take(page, "microphone-blocked")

    message = page.get_by_label("Message to the agent")
    message.fill(TYPED_QUESTION)
    message.press("Enter")
    expect(agent_reply_after(page, USER_TYPED)).not_to_be_empty(timeout=AGENT_TIMEOUT_MS)
    shots.take(page, "typed-reply-without-microphone")


def test_when_the_connection_drops_the_page_says_so_and_try_again_starts_afresh(
    app_on_own_livekit: AppServer,
    own_livekit_server: LiveKitServer,
    inference_service: InferenceService,
    plain_page: Page,
    tmp_path: Path,
    shots: Screenshots,
) -> None:
    page, app = plain_page, app_on_own_livekit
    worker = AgentWorker(tmp_path / "worker", own_livekit_server, app, inference_service).start()
    try:
        sign_in(page, app, registered_user(app, "Ken"))
        status = start_conversation(page, worker)
        expect(page.locator('.caption[data-role="agent"]').first).to_contain_text(
            "Ken", timeout=AGENT_TIMEOUT_MS
        )

        own_livekit_server.kill()
        expect(status).to_have_text("Reconnecting…", timeout=30_000)
        shots.take(page, "reconnecting")
        problem = page.locator("#talk-problem")
        # livekit-client retries for about 45 s before it gives up
        expect(problem).to_contain_text("The connection dropped", timeout=120_000)
        expect(status).to_have_text("Disconnected")
        shots.take(page, "connection-dropped")

        own_livekit_server.start()
        wait_until(
            lambda: worker.log().count(REGISTERED_LOG_LINE) >= 2,
            timeout=120,
            what="the worker registering again",
        )
        problem.get_by_role("button", name="Try again").click()
        expect(status).to_have_text("Listening", timeout=AGENT_TIMEOUT_MS)
        expect(problem).to_have_count(0)
        shots.take(page, "after-try-again")
    finally:
        worker.stop()


AGENT_LOSS_NOTICED_MS = 5_000
AGENT_CAPTIONS = '.caption[data-role="agent"]'


def talking_with_the_agent(page: Page, app: AppServer, worker: AgentWorker, display_name: str) -> float:
    """A new user signed in, greeted by name, with the agent listening; when Start was pressed
    (``time.monotonic()``)."""
    sign_in(page, app, registered_user(app, display_name))
    status = start_conversation(page, worker)
    started = time.monotonic()
    expect(page.locator(AGENT_CAPTIONS).first).to_contain_text(display_name, timeout=AGENT_TIMEOUT_MS)
    expect(status).to_have_text("Listening", timeout=AGENT_TIMEOUT_MS)
    return started


def expect_a_new_agent_going_on(page: Page, display_name: str) -> None:
    """A new agent's first words ("Sorry Ada, I lost my connection…") appear, the notice goes."""
    first_words = prompts.resumed_greeting(display_name).split(",")[0]
    expect(page.locator(AGENT_CAPTIONS).filter(has_text=first_words)).to_have_count(1, timeout=20_000)
    expect(page.locator("#talk-status")).to_have_text(re.compile("Listening|Speaking"))
    expect(page.locator("#talk-problem")).to_have_count(0)


def test_when_the_agent_is_lost_the_page_says_so_and_a_new_one_goes_on_by_itself(
    quiet_page: Page,
    app_server: AppServer,
    agent_worker: AgentWorker,
    livekit_server: LiveKitServer,
    shots: Screenshots,
) -> None:
    page = quiet_page
    started = talking_with_the_agent(page, app_server, agent_worker, "Barbara")

    os.kill(agent_worker.job_process_in_room(livekit_server.port).pid, signal.SIGKILL)
    problem = page.locator("#talk-problem")
    expect(problem).to_contain_text("The agent was lost", timeout=AGENT_LOSS_NOTICED_MS)
    expect(problem.get_by_role("button", name="Try again")).to_have_count(0)
    shots.take(page, "agent-lost")

    expect_a_new_agent_going_on(page, "Barbara")
    shots.take(page, "new-agent-back")

    # livekit-components' agent-join timer, started when the page connected, fires later; the
    # loss it then sees is not a new one, and the conversation goes on with the new agent
    page.wait_for_timeout(max(0.0, started + AGENT_JOIN_TIMEOUT_SECONDS + 3 - time.monotonic()) * 1000)
    expect(problem).to_have_count(0)
    expect(page.locator("#talk-status")).to_have_text(re.compile("Listening|Speaking"))


AGENT_SILENCE_NOTICED_MS = 8_000
"""The heartbeat is missed after 4 s (`AGENT_SILENT_AFTER_SECONDS`), checked every second."""

AGENT_GONE_NOTICE = re.compile("The agent stopped responding|The agent was lost")
"""Either notice is right for a killed worker: the kernel closes its sockets, so livekit-server
may drop the agent before its missed heartbeat is noticed."""


def test_when_the_agents_whole_worker_is_lost_the_page_notices_in_seconds_and_a_new_agent_goes_on(
    quiet_page: Page,
    app_server: AppServer,
    agent_worker: AgentWorker,
    livekit_server: LiveKitServer,
    inference_service: InferenceService,
    tmp_path: Path,
    shots: Screenshots,
) -> None:
    page = quiet_page
    talking_with_the_agent(page, app_server, agent_worker, "Grace")
    standby = AgentWorker(tmp_path / "standby", livekit_server, app_server, inference_service).start()
    try:
        agent_worker.kill_with_its_jobs()  # its machine is lost: nothing of it can say so
        problem = page.locator("#talk-problem")
        expect(problem).to_contain_text(AGENT_GONE_NOTICE, timeout=AGENT_SILENCE_NOTICED_MS)
        expect(problem.get_by_role("button", name="Try again")).to_have_count(0)
        shots.take(page, "agent-silent")

        expect_a_new_agent_going_on(page, "Grace")
        shots.take(page, "new-agent-after-lost-worker")
    finally:
        standby.stop()
        agent_worker.start()  # the session's worker, for the tests after this one
