"""Tool calls on the talk page in headless Chromium: shown while they run, then their result,
and kept in the history. Real app, livekit-server, worker and database; the LLM is the
tool-calling stand-in at the OpenAI API boundary (``tests/support/standin_llm.py``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import AppServer, fake_microphone_args, isolated_tree, launch_chromium
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.speech import QUESTIONS, fake_microphone_recording
from tests.support.standin_llm import StandinLLM, worker_env
from tests.support.worker import AgentWorker
from tests.test_talk_page import (
    AGENT_TIMEOUT_MS,
    PAGE_TIMEOUT_MS,
    Screenshots,
    registered_user,
    sign_in,
    start_conversation,
)
from voice_app import routes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BROWSER_TIME_ZONE = "Asia/Tokyo"
REPEATED_QUESTION = QUESTIONS[0]
OUTSIDE_THE_PRESS_SECONDS = 12
HOLD_SECONDS = 9
TOOL_CALL = '.caption[data-role="tool"]'


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(request.node.name)


@pytest.fixture(scope="module")
def app_with_tool_calling_llm(
    tmp_path_factory: pytest.TempPathFactory, inference_service: InferenceService
) -> Iterator[tuple[AppServer, AgentWorker]]:
    """An app (in a tree of its own) and the only worker on its own livekit-server, whose LLM is
    the tool-calling stand-in."""
    workdir = tmp_path_factory.mktemp("tools-app")
    livekit = LiveKitServer(workdir).start()
    llm = StandinLLM().start()
    tree = isolated_tree(workdir)
    app = AppServer(workdir, livekit, tree=tree)
    worker = AgentWorker(workdir / "worker", livekit, app, inference_service, extra_env=worker_env(llm))
    try:
        app.start()
        worker.start()
        yield app, worker
    finally:
        worker.stop()
        app.stop()
        llm.stop()
        livekit.stop()
        shutil.rmtree(tree, ignore_errors=True)


@pytest.fixture
def page_in_tokyo(chromium: Browser, shots: Screenshots) -> Iterator[Page]:
    """A page whose browser is set to Tokyo's time zone, microphone and camera allowed."""
    context = chromium.new_context(
        viewport={"width": 1280, "height": 860},
        permissions=["microphone", "camera"],
        timezone_id=BROWSER_TIME_ZONE,
    )
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    yield page
    shots.take(page, "final")
    context.close()


def type_message(page: Page, text: str) -> None:
    message = page.get_by_label("Message to the agent")
    message.fill(text)
    message.press("Enter")


def connected_and_muted(page: Page, worker: AgentWorker) -> None:
    """Start a conversation, mute the fake microphone (its beep is no question), wait for the greeting."""
    status = start_conversation(page, worker)
    microphone = page.get_by_role("button", name="Microphone")
    expect(microphone).to_have_attribute("aria-pressed", "true", timeout=AGENT_TIMEOUT_MS)
    microphone.click()
    # the captions of an earlier conversation were cleared when it connected
    expect(page.locator('.caption[data-role="agent"]').first).to_contain_text(
        "Hello", timeout=AGENT_TIMEOUT_MS
    )
    expect(status).to_have_text("Listening", timeout=AGENT_TIMEOUT_MS)


def test_a_tool_call_shows_while_it_runs_then_its_result_and_stays_in_the_history(
    app_with_tool_calling_llm: tuple[AppServer, AgentWorker], page_in_tokyo: Page, shots: Screenshots
) -> None:
    app, worker = app_with_tool_calling_llm
    page = page_in_tokyo
    sign_in(page, app, registered_user(app, "Kenji"))

    connected_and_muted(page, worker)
    type_message(page, "I am planning a trip to Lisbon with my sister in May.")
    expect(page.locator('.caption[data-role="agent"]').nth(1)).not_to_be_empty(timeout=AGENT_TIMEOUT_MS)
    page.get_by_role("button", name="End", exact=True).click()
    expect(page.locator("#talk-status")).to_have_text("Disconnected")

    connected_and_muted(page, worker)
    type_message(page, "What did we talk about last time?")
    call = page.locator(f'{TOOL_CALL}[data-source="call"]').first
    expect(call).to_contain_text("Looking through your past conversations…", timeout=AGENT_TIMEOUT_MS)
    result = page.locator(f'{TOOL_CALL}[data-source="result"]').first
    expect(result).to_contain_text("trip to Lisbon with my sister", timeout=AGENT_TIMEOUT_MS)
    expect(call).to_have_attribute("data-final", "true")
    expect(
        page.locator(f'{TOOL_CALL}[data-source="result"] ~ .caption[data-role="agent"]').first
    ).to_contain_text("Lisbon", timeout=AGENT_TIMEOUT_MS)
    shots.take(page, "recalled")

    type_message(page, "What time is it?")
    clock = page.locator(f'{TOOL_CALL}[data-source="result"]').nth(1)
    expect(clock).to_contain_text(f"({BROWSER_TIME_ZONE})", timeout=AGENT_TIMEOUT_MS)
    shots.take(page, "clock")
    page.get_by_role("button", name="End", exact=True).click()

    page.goto(app.frontend_url + routes.HISTORY)
    page.locator("li.conversation").first.get_by_role("link").click()
    transcript = page.locator("#transcript")
    expect(transcript.locator('[data-role="tool"]').first).to_contain_text(
        "Looking through your past conversations…"
    )
    expect(transcript.locator('[data-role="tool"]').nth(1)).to_contain_text("trip to Lisbon")
    expect(transcript).to_contain_text(f"({BROWSER_TIME_ZONE})")
    shots.take(page, "history")


def test_a_user_turns_on_memory_and_push_to_talk_in_settings_and_the_talk_page_follows(
    app_with_tool_calling_llm: tuple[AppServer, AgentWorker], page_in_tokyo: Page, shots: Screenshots
) -> None:
    app, worker = app_with_tool_calling_llm
    page = page_in_tokyo
    sign_in(page, app, registered_user(app, "Marta"))
    page.get_by_role("link", name="Settings", exact=True).click()
    page.wait_for_url(f"**{routes.SETTINGS}")
    memory = page.get_by_role("switch", name="Remember my recent conversations")
    push_to_talk = page.get_by_role("switch", name="Push-to-talk")
    expect(memory).to_have_attribute("aria-checked", "false")
    expect(push_to_talk).to_have_attribute("aria-checked", "false")

    memory.click()
    expect(page.locator("#settings-saved")).to_have_text("Memory is on. Saved.")
    expect(page.locator("#remembered")).to_contain_text("Nothing yet")
    push_to_talk.click()
    expect(page.locator("#settings-saved")).to_have_text("Push-to-talk is on. Saved.")
    page.reload()
    expect(memory).to_have_attribute("aria-checked", "true")
    expect(push_to_talk).to_have_attribute("aria-checked", "true")
    shots.take(page, "settings")

    page.get_by_role("link", name="Talk", exact=True).click()
    page.wait_for_url(f"**{routes.TALK}")
    connected_and_muted(page, worker)
    hold = page.get_by_role("button", name="Hold to talk")
    expect(hold).to_be_enabled(timeout=AGENT_TIMEOUT_MS)
    hold.hover()
    page.mouse.down()
    expect(page.locator("#push-to-talk")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#push-to-talk")).to_have_text("Talking… release to send")
    shots.take(page, "holding")
    page.mouse.up()
    expect(page.locator("#push-to-talk")).to_have_attribute("aria-pressed", "false")
    page.locator("#transcript-heading").click()  # focus outside any control: the space bar talks
    page.keyboard.down("Space")
    expect(page.locator("#push-to-talk")).to_have_attribute("aria-pressed", "true")
    page.keyboard.up("Space")
    expect(page.locator("#push-to-talk")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#talk-problem")).to_have_count(0)

    type_message(page, "I am planning a trip to Lisbon with my sister in May.")
    expect(page.locator('.caption[data-role="agent"]').nth(1)).not_to_be_empty(timeout=AGENT_TIMEOUT_MS)
    page.get_by_role("button", name="End", exact=True).click()

    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.locator("#remembered")).to_contain_text(
        'Last time you asked about "I am planning a trip to Lisbon', timeout=30_000
    )
    shots.take(page, "remembered")


@pytest.fixture(scope="module")
def chromium_asking_again_and_again(
    playwright, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """Chromium whose microphone asks ``REPEATED_QUESTION`` every 5 s or so, for minutes: in any
    stretch of a few seconds the user is speaking, pressed or not."""
    path = fake_microphone_recording(
        REPEATED_QUESTION, tmp_path_factory.mktemp("repeating-microphone"), after_seconds=2.5, repeat=40
    )
    browser = launch_chromium(playwright, fake_microphone_args(path))
    yield browser
    browser.close()


def test_with_push_to_talk_only_what_is_said_while_the_button_is_held_is_heard(
    app_with_tool_calling_llm: tuple[AppServer, AgentWorker],
    chromium_asking_again_and_again: Browser,
    shots: Screenshots,
) -> None:
    app, worker = app_with_tool_calling_llm
    context = chromium_asking_again_and_again.new_context(
        viewport={"width": 1280, "height": 860}, permissions=["microphone", "camera"]
    )
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        sign_in(page, app, registered_user(app, "Pia"), next_path=routes.SETTINGS)
        page.get_by_role("switch", name="Push-to-talk").click()
        expect(page.locator("#settings-saved")).to_have_text("Push-to-talk is on. Saved.")
        page.get_by_role("link", name="Talk", exact=True).click()
        start_conversation(page, worker)
        expect(page.locator('.caption[data-role="agent"]').first).to_contain_text(
            "Hello", timeout=AGENT_TIMEOUT_MS
        )
        hold = page.get_by_role("button", name="Hold to talk")
        expect(hold).to_be_enabled(timeout=AGENT_TIMEOUT_MS)

        page.wait_for_timeout(OUTSIDE_THE_PRESS_SECONDS * 1000)
        user_captions = page.locator('.caption[data-role="user"]')
        expect(user_captions).to_have_count(0)
        shots.take(page, "not-heard")

        hold.hover()
        page.mouse.down()
        page.wait_for_timeout(HOLD_SECONDS * 1000)
        page.mouse.up()
        heard = page.locator('.caption[data-role="user"][data-final="true"] .caption-text').first
        expect(heard).to_contain_text("weather", ignore_case=True, timeout=AGENT_TIMEOUT_MS)
        expect(
            page.locator('.caption[data-role="user"] ~ .caption[data-role="agent"]').first
        ).not_to_be_empty(timeout=AGENT_TIMEOUT_MS)
        shots.take(page, "heard-while-held")
        said_while_held = user_captions.count()  # the question may come twice in the hold
        page.wait_for_timeout(OUTSIDE_THE_PRESS_SECONDS * 1000)
        expect(user_captions).to_have_count(said_while_held)
    finally:
        shots.take(page, "final")
        context.close()
