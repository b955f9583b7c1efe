"""The browser's session cookie: its attributes, and who may ride it (no processes).

The origin check runs in-process: a tiny ASGI app behind `CookieSessionOriginCheck`, called
through httpx's ASGI transport.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from voice_app.auth.browser_session import (
    CookieSessionOriginCheck,
    clear_session_cookie,
    origin_is_the_apps,
    session_cookie_name,
    session_token_from_cookies,
    set_session_cookie,
)
from voice_app.auth.models import utc_now
from voice_app.settings import Settings

PRODUCTION_VALUES = {
    "ENVIRONMENT": "production",
    "LIVEKIT_API_KEY": "APIkey123",
    "LIVEKIT_API_SECRET": "s" * 40,
    "DATABASE_URL": "postgresql+psycopg://app:pw@db/app",
    "DEPLOY_URL": "https://voice.example.com",
    "API_URL": "https://voice.example.com",
}


def settings(**values: object) -> Settings:
    """Settings from these values only (no `.env`, no environment)."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


DEVELOPMENT = settings(DEPLOY_URL="http://localhost:3000", API_URL="http://localhost:8080")
PRODUCTION = settings(**PRODUCTION_VALUES)


def set_cookie_header(configured: Settings, **session: object) -> str:
    response = Response()
    set_session_cookie(response, settings=configured, **session)  # type: ignore[arg-type]
    return response.headers["set-cookie"]


def test_in_development_the_cookie_is_httponly_lax_and_lasts_as_long_as_the_session() -> None:
    header = set_cookie_header(
        DEVELOPMENT,
        token="the-token",
        expires_at=utc_now() + timedelta(hours=DEVELOPMENT.SESSION_ABSOLUTE_HOURS),
    )

    attributes = [part.strip().lower() for part in header.split(";")]
    assert attributes[0] == "voice_app_session=the-token"
    assert {"httponly", "path=/", "samesite=lax"} <= set(attributes)
    assert "secure" not in attributes, "plain http://localhost in development"
    max_age = next(int(part.split("=")[1]) for part in attributes if part.startswith("max-age="))
    assert abs(max_age - DEVELOPMENT.SESSION_ABSOLUTE_HOURS * 3600) <= 2


def test_in_production_the_cookie_is_secure_and_host_only() -> None:
    header = set_cookie_header(PRODUCTION, token="the-token", expires_at=utc_now() + timedelta(minutes=5))

    attributes = [part.strip().lower() for part in header.split(";")]
    assert attributes[0] == "__host-voice_app_session=the-token"
    assert {"httponly", "secure", "path=/", "samesite=lax"} <= set(attributes)
    assert not any(part.startswith("domain=") for part in attributes), "__Host- cookies have no Domain"


def test_signing_out_expires_the_same_cookie() -> None:
    response = Response()
    clear_session_cookie(response, settings=PRODUCTION)

    attributes = [part.strip().lower() for part in response.headers["set-cookie"].split(";")]
    assert attributes[0] == '__host-voice_app_session=""'
    assert {"max-age=0", "httponly", "secure", "path=/", "samesite=lax"} <= set(attributes)


def test_the_token_is_found_among_other_cookies_and_only_under_its_own_name() -> None:
    name = session_cookie_name(DEVELOPMENT)
    assert session_token_from_cookies(f"theme=dark; {name}=abc; lang=en", settings=DEVELOPMENT) == "abc"
    assert session_token_from_cookies("theme=dark", settings=DEVELOPMENT) == ""
    assert session_token_from_cookies(f"{name}=abc", settings=PRODUCTION) == "", "production's name differs"
    assert session_token_from_cookies("", settings=DEVELOPMENT) == ""


@pytest.mark.parametrize(
    ("origin", "host", "trusted"),
    [
        ("http://localhost:3000", "localhost:8080", True),  # the dev pages, to the dev backend
        ("http://localhost:8080", "localhost:8080", True),  # the backend's own /docs
        ("http://192.168.1.5:3000", "192.168.1.5:3000", True),  # same origin, behind one proxy
        ("https://voice.example.com", "voice.example.com", True),  # TLS ended by the proxy
        ("http://localhost:5173", "localhost:8080", False),  # another local site: same site, other origin
        ("https://evil.example", "localhost:8080", False),
        ("null", "localhost:8080", False),  # sandboxed frames, file: pages
        ("", "localhost:8080", False),  # no browser sends a WebSocket handshake without Origin
    ],
)
def test_a_websocket_is_the_apps_own_only_from_its_pages_or_its_own_host(
    origin: str, host: str, trusted: bool
) -> None:
    assert origin_is_the_apps(origin=origin, host=host, settings=DEVELOPMENT) is trusted


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"method": request.method})


def protected_client(configured: Settings) -> httpx.AsyncClient:
    """A client of a tiny app behind the origin check, with the browser session routes under /browser."""
    app = Starlette(routes=[Route("/{path:path}", _echo, methods=["GET", "POST", "DELETE"])])
    checked = CookieSessionOriginCheck(app, settings=configured, always_checked_prefix="/browser/")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=checked), base_url="http://localhost:8080")


SESSION = {"cookie": f"{session_cookie_name(DEVELOPMENT)}=the-token"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({**SESSION, "origin": "https://evil.example"}, 403),
        ({**SESSION, "origin": "http://localhost:5173", "sec-fetch-site": "same-site"}, 403),
        ({**SESSION, "sec-fetch-site": "cross-site"}, 403),
        ({**SESSION, "origin": "https://evil.example", "authorization": "Basic eDp5"}, 403),
        ({**SESSION, "origin": "http://localhost:3000", "sec-fetch-site": "same-site"}, 200),
        ({**SESSION, "origin": "http://localhost:8080", "sec-fetch-site": "same-origin"}, 200),
        (SESSION, 200),  # no Origin, no Fetch Metadata: not a browser, so nothing to forge
        ({"origin": "https://evil.example", "authorization": "Bearer t"}, 200),  # bearer only: CORS decides
    ],
    ids=[
        "cookie-foreign-origin",
        "cookie-other-port-same-site",
        "cookie-cross-site-metadata",
        "cookie-with-other-authorization",
        "cookie-from-the-pages",
        "cookie-same-origin",
        "cookie-not-a-browser",
        "bearer-foreign-origin",
    ],
)
async def test_a_state_changing_request_rides_the_cookie_only_from_the_apps_origin(
    headers: dict[str, str], status: int
) -> None:
    async with protected_client(DEVELOPMENT) as client:
        answer = await client.post("/api/create-room", headers=headers)

    assert answer.status_code == status
    if status == 403:
        assert "outside the app" in answer.json()["detail"]


async def test_reading_with_the_cookie_from_another_origin_is_left_to_cors() -> None:
    async with protected_client(DEVELOPMENT) as client:
        answer = await client.get("/api/me", headers={**SESSION, "origin": "https://evil.example"})
    assert answer.status_code == 200


async def test_the_browser_sign_in_routes_are_checked_before_there_is_a_cookie() -> None:
    async with protected_client(DEVELOPMENT) as client:
        forged = await client.post("/browser/login", headers={"origin": "https://evil.example"})
        own = await client.post("/browser/login", headers={"origin": "http://localhost:3000"})
    assert forged.status_code == 403
    assert own.status_code == 200
