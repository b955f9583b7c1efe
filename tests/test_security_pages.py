"""The pages in headless Chromium under their security headers: a whole conversation runs with no
Content-Security-Policy violation, and a user over a per-user limit is told why in words."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from livekit import api as livekit_api
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.factories import DEFAULT_PASSWORD, random_email, sign_in
from tests.support.browser import AppServer
from tests.support.livekit import LiveKitServer
from tests.support.worker import AgentWorker
from tests.test_talk_page import wait_for_idle_worker
from voice_app import routes
from voice_app.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE_TIMEOUT_MS = 90_000  # the dev server compiles each page on its first visit
AGENT_TIMEOUT_MS = 120_000
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.effectiveDirective} blocked ${event.blockedURI}`);
});
"""


class CspWatch:
    """Every CSP violation a page reports: its console lines and its violation events."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", self._on_console)
        page.add_init_script(RECORD_VIOLATIONS)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def violations(self) -> list[str]:
        """What was refused so far (events of the current document, console lines of all)."""
        return [*self.console, *self.page.evaluate("window.__cspViolations || []")]


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(
        viewport={"width": 1280, "height": 860}, permissions=["microphone", "camera"]
    )
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    yield page
    context.close()


def test_a_whole_conversation_runs_under_the_pages_security_policy(
    page: Page, app_server: AppServer, agent_worker: AgentWorker
) -> None:
    watch = CspWatch(page)
    signup = page.goto(app_server.frontend_url + routes.SIGNUP)
    assert signup is not None
    policy = signup.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert signup.headers["x-content-type-options"] == "nosniff"
    assert "microphone=(self)" in signup.headers["permissions-policy"]

    page.locator("#display_name").fill("Ada")
    page.locator("#email").fill(random_email())
    page.locator("#password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(lambda address: routes.SIGNUP not in address)
    page.goto(app_server.frontend_url + routes.TALK)
    start = page.get_by_role("button", name="Start conversation")
    expect(start).to_be_enabled()
    wait_for_idle_worker(agent_worker)
    start.click()

    status = page.locator("#talk-status")
    expect(page.locator('.caption[data-role="agent"]').first).to_contain_text("Ada", timeout=AGENT_TIMEOUT_MS)
    expect(status).to_have_text("Listening", timeout=AGENT_TIMEOUT_MS)
    message = page.get_by_label("Message to the agent")
    message.fill("What is the capital of France?")
    message.press("Enter")
    expect(
        page.locator('.caption[data-source="typed"] ~ .caption[data-role="agent"] .caption-text').first
    ).not_to_be_empty(timeout=AGENT_TIMEOUT_MS)
    page.get_by_role("button", name="End", exact=True).click()
    expect(status).to_have_text("Disconnected")
    during_conversation = watch.violations()

    page.goto(app_server.frontend_url + routes.HISTORY)
    expect(page.locator("li.conversation").first).to_be_visible()
    page.goto(app_server.frontend_url + routes.LOGOUT)
    expect(page.get_by_text("You are signed out")).to_be_visible()

    assert during_conversation == []
    assert watch.violations() == []


def close_rooms_of(livekit: LiveKitServer, user_id: int) -> None:
    """Delete the user's rooms (in a thread: Playwright's loop is this thread's running loop)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _delete_rooms_of(livekit, user_id)).result()


async def _delete_rooms_of(livekit: LiveKitServer, user_id: int) -> None:
    async with livekit_api.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as lk:
        for room in (await lk.room.list_rooms(livekit_api.ListRoomsRequest())).rooms:
            if f'"owner_id": {user_id}' in room.metadata:
                await lk.room.delete_room(livekit_api.DeleteRoomRequest(room=room.name))


def test_over_the_conversation_limit_the_talk_page_says_why_in_words(
    page: Page, app_server: AppServer, livekit_server: LiveKitServer
) -> None:
    limit = Settings().CONVERSATIONS_PER_USER
    with httpx.Client(base_url=app_server.backend_url, timeout=30) as api:
        user = sign_in(api, display_name="Busy")
        try:
            for _ in range(limit):  # conversations open in other tabs
                assert api.post("/api/create-room", json={}, headers=user.headers).status_code == 201
            page.goto(f"{app_server.frontend_url}{routes.LOGIN}?next={routes.TALK}")
            page.locator("#email").fill(user.email)
            page.locator("#password").fill(user.password)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("button", name="Start conversation").click()

            problem = page.locator("#talk-problem")
            expect(problem).to_contain_text("Too many conversations")
            expect(problem).to_contain_text(f"You already have {limit} conversations open")
            expect(problem).to_have_attribute("role", "alert")
            expect(problem.get_by_role("button", name="Try again")).to_be_visible()
            expect(page.locator("#talk-status")).to_have_text("Disconnected")
        finally:
            close_rooms_of(livekit_server, user.user_id)
