"""Every page passes axe-core's WCAG 2.1 AA and best-practice rules, in light and dark mode.

Pages are checked as a user meets them in headless Chromium against the real app: signed out
(sign-in, sign-up and their errors, signed out), signed in (talk page before, during and after a
conversation with the real agent worker, the history list, a transcript, the account page, the
confirmation dialogs, the page after deleting the account).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.factories import DEFAULT_PASSWORD, register_user, store_conversation
from tests.support.accessibility import axe_violations, describe
from tests.support.browser import ARTIFACTS_DIR, AppServer
from tests.support.worker import AgentWorker
from voice_app import routes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE_TIMEOUT_MS = 90_000  # the dev server compiles each page on its first visit
AGENT_TIMEOUT_MS = 120_000
COLOR_SCHEMES = ["light", "dark"]


@pytest.fixture(params=COLOR_SCHEMES)
def page(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page in light or dark mode (the app follows the system's colour scheme)."""
    context = chromium.new_context(
        viewport={"width": 1280, "height": 860},
        permissions=["microphone", "camera"],
        color_scheme=request.param,
    )
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    yield page
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / f"a11y-{request.node.name}.png"), full_page=True)
    context.close()


class AxeFindings:
    """What axe-core found on each page a test visits; the test fails at the end, naming them all."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def check(self, page: Page, what: str) -> None:
        violations = axe_violations(page)
        if violations:
            self.found[what] = describe(violations)

    def assert_none(self) -> None:
        assert self.found == {}, "axe-core found:\n" + "\n".join(
            f"on {what}:\n{found}" for what, found in self.found.items()
        )


def registered_user(app: AppServer, display_name: str) -> dict:
    with httpx.Client(base_url=app.backend_url, timeout=30) as api:
        return register_user(api, display_name=display_name)


def sign_in(page: Page, app: AppServer, email: str) -> None:
    page.goto(f"{app.frontend_url}{routes.LOGIN}")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda address: address.rstrip("/").endswith(routes.TALK))


def test_the_signed_out_pages_pass_axe(page: Page, app_server: AppServer) -> None:
    axe = AxeFindings()
    for path, ready in [
        (routes.LOGIN, "#email"),
        (routes.SIGNUP, "#display_name"),
        (routes.LOGOUT, "text=You are signed out"),
    ]:
        page.goto(app_server.frontend_url + path)
        expect(page.locator(ready)).to_be_visible()
        axe.check(page, path)

    page.goto(app_server.frontend_url + routes.LOGIN)
    page.locator("#email").fill("nobody@example.com")
    page.locator("#password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_be_visible()
    axe.check(page, "the sign-in page with its error")

    page.goto(app_server.frontend_url + routes.SIGNUP)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#email-error")).to_be_visible()
    axe.check(page, "the sign-up page with its errors")
    axe.assert_none()


def test_the_signed_in_pages_pass_axe(page: Page, app_server: AppServer, database_url: str) -> None:
    axe = AxeFindings()
    user = registered_user(app_server, "Ada")
    conversation_id = store_conversation(
        database_url,
        user["id"],
        [("agent", "spoken", "Hello Ada!"), ("user", "typed", "What is the capital of France?")],
    )
    sign_in(page, app_server, user["email"])

    expect(page.get_by_role("button", name="Start conversation")).to_be_visible()
    axe.check(page, "the talk page before a conversation")

    page.goto(app_server.frontend_url + routes.HISTORY)
    expect(page.locator("li.conversation")).to_have_count(1)
    axe.check(page, "the history list")

    page.goto(f"{app_server.frontend_url}{routes.HISTORY}/{conversation_id}")
    expect(page.locator("#transcript")).to_contain_text("capital of France")
    axe.check(page, "a transcript")
    page.locator("#delete-conversation").click()
    expect(page.get_by_role("alertdialog")).to_be_visible()
    axe.check(page, "a transcript's delete confirmation")
    page.keyboard.press("Escape")

    page.goto(app_server.frontend_url + routes.SETTINGS)
    expect(page.locator("#memory-switch")).to_be_visible()
    axe.check(page, "the settings page")
    page.locator("#memory-switch").click()
    expect(page.locator("#memory-switch")).to_have_attribute("aria-checked", "true")
    axe.check(page, "the settings page with memory on")

    page.goto(app_server.frontend_url + routes.ACCOUNT)
    expect(page.locator("#delete-account")).to_be_visible()
    axe.check(page, "the account page")
    page.locator("#delete-account").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    axe.check(page, "the account deletion confirmation")
    dialog.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Your account has been deleted")).to_be_visible()
    axe.check(page, "the page after deleting the account")
    axe.assert_none()


def test_the_talk_page_in_a_conversation_passes_axe(
    page: Page, app_server: AppServer, agent_worker: AgentWorker
) -> None:
    axe = AxeFindings()
    user = registered_user(app_server, "Grace")
    sign_in(page, app_server, user["email"])
    page.get_by_role("button", name="Start conversation").click()
    expect(page.locator('.caption[data-role="agent"]').first).to_contain_text(
        "Grace", timeout=AGENT_TIMEOUT_MS
    )
    expect(page.locator("#talk-status")).to_have_text("Listening", timeout=AGENT_TIMEOUT_MS)
    page.locator("#latency-details summary").click()
    page.locator("details summary", has_text="Devices").click()
    axe.check(page, "the talk page in a conversation")
    page.get_by_role("button", name="End", exact=True).click()
    expect(page.locator("#talk-status")).to_have_text("Disconnected")
    axe.check(page, "the talk page after a conversation")
    axe.assert_none()
