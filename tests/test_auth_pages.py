"""Accounts in the browser: sign up, sign in, stay signed in across a reload, sign out (in every
tab), and a protected page that sends a signed-out visitor to the login page and back.

The session lives in an HttpOnly cookie; the tests read it through Playwright's browser context
(as the browser itself sees it), never through the page, where no script can.

Headless Chromium drives the real app (frontend dev server and backend) on free ports.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.factories import DEFAULT_PASSWORD, random_email, register_user
from tests.support.browser import AppServer
from voice_app import routes
from voice_app.auth.browser_session import SESSION_COOKIE
from voice_app.auth.service import INVALID_CREDENTIALS_MESSAGE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROTECTED = routes.HISTORY
PAGE_TIMEOUT_MS = 90_000  # the dev server compiles each page on its first visit


@pytest.fixture
def page(browser_page: Page) -> Page:
    browser_page.set_default_timeout(PAGE_TIMEOUT_MS)
    return browser_page


@pytest.fixture
def api(app_server: AppServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_server.backend_url, timeout=30) as client:
        yield client


def url(app_server: AppServer, path: str) -> str:
    return app_server.frontend_url + path


def at(path: str, query: str = "") -> re.Pattern[str]:
    return re.compile(rf"^https?://[^/]+{re.escape(path)}{re.escape(query)}$")


def stored_token(page: Page) -> str | None:
    """The session cookie the browser holds for the app, if any."""
    return next((c["value"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE), None)


def fill_login(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_through_the_page(page: Page, app_server: AppServer, api: httpx.Client) -> str | None:
    """A new user signs in on the login page and lands on the talk page; returns the session token."""
    email = register_user(api)["email"]
    page.goto(url(app_server, routes.LOGIN))
    fill_login(page, email, DEFAULT_PASSWORD)
    page.wait_for_url(at(routes.TALK))
    return stored_token(page)


def fill_signup(page: Page, display_name: str, email: str, password: str) -> None:
    page.get_by_label("Your name").fill(display_name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()


def test_a_visitor_signs_up_and_is_signed_in(page: Page, app_server: AppServer, api: httpx.Client) -> None:
    email = random_email()
    page.goto(url(app_server, routes.SIGNUP))

    fill_signup(page, "Ada 🎙️", email, DEFAULT_PASSWORD)

    page.wait_for_url(at(routes.TALK))
    token = stored_token(page)
    me = api.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["display_name"] == "Ada 🎙️"


def test_sign_up_explains_each_problem_next_to_its_field(
    page: Page, app_server: AppServer, api: httpx.Client
) -> None:
    taken = register_user(api)["email"]
    page.goto(url(app_server, routes.SIGNUP))

    fill_signup(page, "", "not-an-email", "short")

    expect(page.locator("#display_name-error")).to_have_text("Enter the name we should call you.")
    expect(page.locator("#email-error")).to_have_text("Enter an email address like name@example.com.")
    expect(page.locator("#password-error")).to_contain_text("at least 8 characters")

    fill_signup(page, "Twin", taken.upper(), DEFAULT_PASSWORD)

    expect(page.locator("#email-error")).to_contain_text("already exists")
    expect(page.locator("#display_name-error")).to_have_count(0)
    expect(page.locator("#password-error")).to_have_count(0)
    assert not stored_token(page)


def test_a_wrong_password_is_explained_without_saying_whether_the_email_exists(
    page: Page, app_server: AppServer, api: httpx.Client
) -> None:
    email = register_user(api)["email"]
    page.goto(url(app_server, routes.LOGIN))

    fill_login(page, email, "not the right passphrase")
    expect(page.locator("#login-error")).to_have_text(INVALID_CREDENTIALS_MESSAGE)
    expect(page.locator("#password")).to_have_value("")

    fill_login(page, random_email(), "not the right passphrase")
    expect(page.locator("#login-error")).to_have_text(INVALID_CREDENTIALS_MESSAGE)
    assert not stored_token(page)


def test_a_protected_page_sends_a_visitor_to_login_and_back_and_a_reload_keeps_them_signed_in(
    page: Page, app_server: AppServer, api: httpx.Client
) -> None:
    email = register_user(api)["email"]

    page.goto(url(app_server, PROTECTED))
    page.wait_for_url(at(routes.LOGIN, f"?next={PROTECTED}"))
    fill_login(page, email, DEFAULT_PASSWORD)

    page.wait_for_url(at(PROTECTED))
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(page).to_have_url(at(PROTECTED))
    assert stored_token(page)


def test_signing_out_in_one_tab_signs_out_the_others(
    page: Page, app_server: AppServer, api: httpx.Client
) -> None:
    token = sign_in_through_the_page(page, app_server, api)
    context: BrowserContext = page.context
    other_tab = context.new_page()
    other_tab.set_default_timeout(PAGE_TIMEOUT_MS)
    other_tab.goto(url(app_server, PROTECTED))
    other_tab.wait_for_url(at(PROTECTED))

    page.goto(url(app_server, routes.LOGOUT))
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()

    other_tab.wait_for_url(at(routes.LOGIN, f"?next={PROTECTED}"))  # without touching it
    assert not stored_token(other_tab), "the backend cleared the cookie"
    assert api.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_session_revoked_on_the_server_is_refused_at_the_next_page_visit(
    page: Page, app_server: AppServer, api: httpx.Client
) -> None:
    token = sign_in_through_the_page(page, app_server, api)

    assert api.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    page.goto(url(app_server, PROTECTED))

    page.wait_for_url(at(routes.LOGIN, f"?next={PROTECTED}"))
    assert api.get("/api/me", headers={"cookie": f"{SESSION_COOKIE}={token}"}).status_code == 401


WHAT_PAGE_SCRIPTS_SEE = """() => ({
    cookie: document.cookie,
    localStorage: JSON.stringify({...window.localStorage}),
    sessionStorage: JSON.stringify({...window.sessionStorage}),
})"""


def test_after_signing_in_no_script_on_the_page_can_read_the_session_token(
    page: Page, app_server: AppServer, api: httpx.Client
) -> None:
    frames: list[str] = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(str(frame))))

    token = sign_in_through_the_page(page, app_server, api)
    expect(page.get_by_role("button", name="Start conversation")).to_be_visible()

    assert token, "the browser holds the session cookie"
    seen_by_scripts = page.evaluate(WHAT_PAGE_SCRIPTS_SEE)
    for place, content in seen_by_scripts.items():
        assert token not in content, f"the session token is readable from {place}"
    assert not any(token in frame for frame in frames), "the Reflex state never sends the token to the page"
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["domain"] == "127.0.0.1", "host-only: no Domain attribute"
    hours_left = (cookie["expires"] - time.time()) / 3600
    assert 11.9 < hours_left <= 12, "the cookie ends with the session (SESSION_ABSOLUTE_HOURS)"


class _PrizePage(BaseHTTPRequestHandler):
    """A page of a site the user has no reason to trust."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.end_headers()
        self.wfile.write(b"<h1>You won a prize</h1>")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def foreign_origin() -> Iterator[str]:
    """A real HTTP server on another port of the app's host: the same site, another origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PrizePage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


FORGED_POST = """(url) => fetch(url, {method: "POST", credentials: "include", mode: "no-cors",
                                headers: {"content-type": "text/plain"}, body: "{}"}).catch(() => null)"""
"""A request a foreign page can send without asking (no preflight, no CORS): it need not read the
answer, only have the browser send it with the cookie."""


def test_a_page_of_another_origin_on_the_same_site_cannot_use_the_session_cookie(
    page: Page, app_server: AppServer, api: httpx.Client, foreign_origin: str
) -> None:
    sign_in_through_the_page(page, app_server, api)
    page.goto(f"{foreign_origin}/prize")

    with page.expect_response(lambda response: "/api/create-room" in response.url) as answer_info:
        page.evaluate(FORGED_POST, f"{app_server.backend_url}/api/create-room")

    answer = answer_info.value
    # The answer is opaque to the page (no CORS) and Chromium does not report the cookie header of
    # such a request; the cookie it holds for the backend's host is one a same-site request carries.
    cookie = next(c for c in page.context.cookies() if c["name"] == SESSION_COOKIE)
    assert (cookie["domain"], cookie["sameSite"]) == (urlsplit(app_server.backend_url).hostname, "Lax")
    assert urlsplit(foreign_origin).hostname == cookie["domain"], "the foreign page is on the same site"
    assert answer.status == 403
