"""The protective layers as an operator configures them: CORS origins, the body limit, the
headers, and the dev server's headers plugin. Pure logic and in-process ASGI apps only."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError
from reflex_base.compiler import templates
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from voice_app.logs import MASK, MaskSecrets, known_secrets
from voice_app.security.body_limit import BodySizeLimitMiddleware
from voice_app.security.dev_server_headers import ViteConfigError, add_headers_plugin
from voice_app.security.headers import API_CSP, SecurityHeadersMiddleware, page_csp
from voice_app.settings import Settings

PRODUCTION = {
    "ENVIRONMENT": "production",
    "LIVEKIT_API_KEY": "APIprodkey",
    "LIVEKIT_API_SECRET": "s" * 40,
    "DATABASE_URL": "postgresql+psycopg://u:p@db/app",
    "DEPLOY_URL": "https://voice.example.com",
    "API_URL": "https://voice.example.com",
    "LIVEKIT_PUBLIC_URL": "wss://voice.example.com",
}
LIMIT = 64 * 1024


def settings(**values: object) -> Settings:
    """Settings from these values only (no `.env`, no environment)."""
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_production_allows_exactly_its_own_and_the_configured_origins() -> None:
    production = settings(**PRODUCTION, CORS_ALLOWED_ORIGINS="https://admin.example.com/")

    assert production.cors_origins == ["https://voice.example.com", "https://admin.example.com"]


def test_production_refuses_a_wildcard_origin() -> None:
    with pytest.raises(ValidationError, match="CORS_ALLOWED_ORIGINS"):
        settings(**PRODUCTION, CORS_ALLOWED_ORIGINS="*")


def test_development_allows_the_app_and_localhost_only() -> None:
    development = settings(FRONTEND_PORT=3000, DEPLOY_URL="http://localhost:3000")

    assert development.cors_origins == ["http://localhost:3000", "http://127.0.0.1:3000"]


def test_the_page_policy_connects_only_to_the_app_its_backend_and_livekit() -> None:
    policy = page_csp(settings(**PRODUCTION, CSP_EXTRA_CONNECT_SRC="wss://eu.livekit.cloud"))

    connect = next(part for part in policy.split("; ") if part.startswith("connect-src"))
    assert connect.split()[1:] == [
        "'self'",
        "wss://voice.example.com",
        "https://voice.example.com",
        "wss://eu.livekit.cloud",
    ]
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-eval'" not in policy


async def echo_length(request: Request) -> JSONResponse:
    return JSONResponse({"length": len(await request.body())})


def body_limited_app() -> TestClient:
    app = Starlette(routes=[Route("/echo", echo_length, methods=["POST"])])
    return TestClient(BodySizeLimitMiddleware(app, LIMIT))


def test_a_body_under_the_limit_reaches_the_route() -> None:
    answer = body_limited_app().post("/echo", content=b"x" * LIMIT)

    assert answer.status_code == 200
    assert answer.json() == {"length": LIMIT}


def test_a_declared_body_over_the_limit_is_refused_with_413() -> None:
    answer = body_limited_app().post("/echo", content=b"x" * (LIMIT + 1))

    assert answer.status_code == 413
    assert answer.json() == {"detail": "The request body is larger than the 64 KB this server accepts."}


def test_a_chunked_body_over_the_limit_is_refused_with_413() -> None:
    def chunks():  # no Content-Length: httpx sends it chunked
        for _ in range(32):
            yield b"x" * 4096

    answer = body_limited_app().post("/echo", content=chunks())

    assert answer.status_code == 413
    assert "larger than" in answer.json()["detail"]


def test_json_answers_forbid_everything_and_pages_get_the_page_policy() -> None:
    app = Starlette(
        routes=[
            Route("/api/thing", lambda _request: JSONResponse({})),
            Route("/page", lambda _request: HTMLResponse("<p>hi</p>")),
        ]
    )
    client = TestClient(SecurityHeadersMiddleware(app, settings(**PRODUCTION)))

    api, page = client.get("/api/thing"), client.get("/page")

    assert api.headers["content-security-policy"] == API_CSP
    assert page.headers["content-security-policy"] == page_csp(settings(**PRODUCTION))
    for answer in (api, page):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["strict-transport-security"].startswith("max-age=")
        assert "microphone=(self)" in answer.headers["permissions-policy"]


def test_a_page_revalidated_with_304_keeps_the_page_policy_it_was_stored_with() -> None:
    """A 304 for a page (Reflex serving the built frontend, with ETags) carries no content type.
    Given the API's policy, the browser merged it into the stored page, which then could run none
    of its scripts: the talk page came back blank on a second visit."""
    etag = '"v1"'

    def page(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return HTMLResponse("<p>hi</p>", headers={"ETag": etag})

    client = TestClient(
        SecurityHeadersMiddleware(Starlette(routes=[Route("/talk/", page)]), settings(**PRODUCTION))
    )

    first = client.get("/talk/")
    again = client.get("/talk/", headers={"If-None-Match": etag})

    assert first.headers["content-security-policy"] == page_csp(settings(**PRODUCTION))
    assert again.status_code == 304
    assert "content-security-policy" not in again.headers
    assert again.headers["x-content-type-options"] == "nosniff"


def test_the_dev_server_config_gets_the_headers_plugin_first() -> None:
    config = templates.vite_config_template(
        base="/", hmr=True, force_full_reload=False, experimental_hmr=False, sourcemap=False
    )

    edited = add_headers_plugin(config)

    assert "function voiceAppSecurityHeaders()" in edited
    assert "plugins: [\n    voiceAppSecurityHeaders()," in edited
    assert "Content-Security-Policy" in edited


def test_a_changed_vite_template_fails_loudly() -> None:
    with pytest.raises(ViteConfigError):
        add_headers_plugin("export default {}")


def test_log_lines_never_show_the_secrets_the_backend_holds() -> None:
    production = settings(
        **{**PRODUCTION, "DATABASE_URL": "postgresql+psycopg://app:db-pass-1234@db/app"},
        REDIS_URL="redis://:redis-pass-5678@redis:6379/0",
    )
    record = logging.LogRecord(
        "aiohttp",
        logging.DEBUG,
        __file__,
        1,
        "connecting with %s to %s",
        (production.LIVEKIT_API_SECRET, production.DATABASE_URL),
        None,
    )

    MaskSecrets(known_secrets(production)).filter(record)

    assert record.getMessage() == f"connecting with {MASK} to postgresql+psycopg://app:{MASK}@db/app"
    assert known_secrets(production) == [production.LIVEKIT_API_SECRET, "db-pass-1234", "redis-pass-5678"]
