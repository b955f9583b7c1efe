"""The browser's session over HTTP, against the real backend: the app's pages sign in and get an
HttpOnly cookie (never the token in a body); requests that ride the cookie are accepted only from
the app's own origin; signing out ends the session and clears the cookie; API clients keep their
bearer tokens.

What the browser makes of it (no script can read the cookie, reloads, other tabs) is in
`test_auth_pages.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
import pytest

from tests.factories import DEFAULT_PASSWORD, random_email, register_user, sign_in
from tests.support.backend import UNSERVED_AGENT_NAME, Backend
from tests.support.livekit import LiveKitServer
from tests.support.processes import free_port
from voice_app.auth.browser_session import SESSION_COOKIE

PAGES_ORIGIN = f"http://127.0.0.1:{free_port()}"
"""Where the app's pages would be served (DEPLOY_URL): another port of the backend's host, as in
development."""
FOREIGN_ORIGINS = ["https://evil.example", "http://127.0.0.1:1"]  # another site; the same site, another port


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory, livekit_server: LiveKitServer) -> Iterator[Backend]:
    """A backend of this module's own: its pages on `PAGES_ORIGIN`, its rooms dispatching an agent
    no worker serves (no job process starts for them)."""
    server = Backend(
        tmp_path_factory.mktemp("session-cookie-backend"),
        livekit_server,
        {"DEPLOY_URL": PAGES_ORIGIN, "AGENT_NAME": UNSERVED_AGENT_NAME},
    ).start()
    yield server
    server.stop()


@pytest.fixture
def api(backend: Backend) -> Iterator[httpx.Client]:
    """A client that keeps no cookies: each request carries exactly the session cookie it is given."""
    keeps_none = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    with httpx.Client(base_url=backend.base_url, timeout=30, cookies=keeps_none) as client:
        yield client


def from_the_pages(**headers: str) -> dict[str, str]:
    """Headers of a request the app's pages send with fetch (same site, the pages' origin)."""
    return {"origin": PAGES_ORIGIN, "sec-fetch-site": "same-site", **headers}


def with_cookie(token: str, **headers: str) -> dict[str, str]:
    return {"cookie": f"{SESSION_COOKIE}={token}", **headers}


def set_cookie_attributes(response: httpx.Response) -> dict[str, str]:
    """The session cookie's ``Set-Cookie`` attributes, lower-cased names; the value under ``value``."""
    header = next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}="))
    first, *rest = (part.strip() for part in header.split(";"))
    attributes = {"value": first.split("=", 1)[1]}
    for part in rest:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return attributes


def browser_sign_in(api: httpx.Client) -> tuple[dict, str]:
    """A new user signs in the way the login page does; returns the body and the cookie's token."""
    email = register_user(api)["email"]
    response = api.post(
        "/api/auth/browser/login",
        json={"email": email, "password": DEFAULT_PASSWORD},
        headers=from_the_pages(),
    )
    assert response.status_code == 200, response.text
    return response.json(), set_cookie_attributes(response)["value"]


def test_the_login_page_gets_the_session_only_as_an_httponly_cookie(api: httpx.Client) -> None:
    email = register_user(api, display_name="Ada")["email"]

    response = api.post(
        "/api/auth/browser/login",
        json={"email": email, "password": DEFAULT_PASSWORD},
        headers=from_the_pages(),
    )

    assert response.status_code == 200
    cookie = set_cookie_attributes(response)
    token = cookie.pop("value")
    assert len(token) >= 43
    assert token not in response.text, "the body, which scripts can read, never holds the token"
    assert "token" not in response.json()
    assert response.json()["user"]["display_name"] == "Ada"
    assert response.headers["cache-control"] == "no-store"
    assert {"httponly", "path", "samesite", "max-age"} <= set(cookie)
    assert (cookie["path"], cookie["samesite"].lower()) == ("/", "lax")
    assert "secure" not in cookie, "development runs on plain http://"
    assert abs(int(cookie["max-age"]) - 12 * 3600) <= 5, "the cookie lasts as long as the session may"
    expires_at = datetime.fromisoformat(response.json()["expires_at"])
    assert timedelta(hours=11, minutes=59) < expires_at - datetime.now(UTC) <= timedelta(hours=12)

    me = api.get("/api/me", headers=with_cookie(token, **from_the_pages()))
    assert me.status_code == 200
    assert me.json()["email"] == email


def test_signing_up_on_the_page_signs_in_with_the_cookie_and_explains_refusals(api: httpx.Client) -> None:
    email = random_email()
    body = {"email": email, "password": DEFAULT_PASSWORD, "display_name": "Grace"}

    created = api.post("/api/auth/browser/register", json=body, headers=from_the_pages())
    again = api.post("/api/auth/browser/register", json=body, headers=from_the_pages())
    invalid = api.post(
        "/api/auth/browser/register",
        json={"email": "nope", "password": "short", "display_name": ""},
        headers=from_the_pages(),
    )

    assert created.status_code == 201
    token = set_cookie_attributes(created)["value"]
    assert api.get("/api/me", headers=with_cookie(token)).json()["display_name"] == "Grace"
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]
    assert invalid.status_code == 422
    assert {error["field"] for error in invalid.json()["errors"]} == {"email", "password", "display_name"}
    assert "set-cookie" not in again.headers
    assert "set-cookie" not in invalid.headers


def test_a_state_changing_request_with_the_cookie_is_served_from_the_apps_own_pages(
    api: httpx.Client,
) -> None:
    _, token = browser_sign_in(api)

    room = api.post("/api/create-room", json={}, headers=with_cookie(token, **from_the_pages()))
    same_origin = api.post(
        "/api/create-room", json={}, headers=with_cookie(token, origin=str(api.base_url).rstrip("/"))
    )

    assert room.status_code == 201, room.text
    assert same_origin.status_code == 201, same_origin.text


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/create-room", {}),
        ("/api/generate-token", {}),
        ("/api/auth/browser/logout", None),
    ],
)
def test_a_request_with_the_cookie_from_a_foreign_origin_is_refused(
    api: httpx.Client, path: str, body: dict | None, origin: str
) -> None:
    _, token = browser_sign_in(api)

    forged = api.post(path, json=body, headers=with_cookie(token, origin=origin))

    assert forged.status_code == 403
    assert forged.headers["content-type"] == "application/json"
    assert "outside the app" in forged.json()["detail"]
    assert "set-cookie" not in forged.headers
    assert api.get("/api/me", headers=with_cookie(token)).status_code == 200, "the session is untouched"


def test_a_foreign_page_cannot_sign_a_browser_in_to_an_account_of_its_choosing(api: httpx.Client) -> None:
    email = register_user(api)["email"]

    forged = api.post(
        "/api/auth/browser/login",
        json={"email": email, "password": DEFAULT_PASSWORD},
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )

    assert forged.status_code == 403
    assert "set-cookie" not in forged.headers


def test_signing_out_on_the_page_ends_the_session_on_the_server_and_clears_the_cookie(
    api: httpx.Client,
) -> None:
    _, token = browser_sign_in(api)

    signed_out = api.post("/api/auth/browser/logout", headers=with_cookie(token, **from_the_pages()))

    assert signed_out.status_code == 204
    cleared = set_cookie_attributes(signed_out)
    assert cleared["value"] in ("", '""')
    assert cleared["max-age"] == "0"
    assert (cleared["path"], cleared["samesite"].lower()) == ("/", "lax")
    assert api.get("/api/me", headers=with_cookie(token)).status_code == 401
    assert api.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    again = api.post("/api/auth/browser/logout", headers=from_the_pages())
    assert again.status_code == 204, "signing out without a session is harmless"


def test_api_clients_keep_their_bearer_tokens_and_a_refused_one_never_falls_back_to_the_cookie(
    api: httpx.Client,
) -> None:
    client = sign_in(api)
    _, browser_token = browser_sign_in(api)

    me = api.get("/api/me", headers=client.headers)
    room = api.post(
        "/api/create-room", json={}, headers={**client.headers, "origin": "https://partner.example"}
    )
    stale_bearer = api.get(
        "/api/me", headers=with_cookie(browser_token, authorization="Bearer not-a-session")
    )

    assert me.status_code == 200
    assert me.json()["email"] == client.email
    assert room.status_code == 201, "bearer requests carry no cookie to forge; CORS decides who reads them"
    assert stale_bearer.status_code == 401
