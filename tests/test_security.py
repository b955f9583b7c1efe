"""A hostile client or page gets nothing extra: oversized bodies are refused before they are read,
every answer carries the security headers, and in production only the app's own origin may call
the backend from a browser."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest

from tests.factories import sign_in
from tests.support.backend import Backend
from tests.support.processes import REPO_ROOT, tool_env
from tests.support.production import CADDY_HINT, ProductionStack
from voice_app.security.headers import API_CSP

pytestmark = pytest.mark.slow

ONE_MEGABYTE_JSON = b'{"email": "a@example.com", "password": "' + b"x" * 1_048_576 + b'"}'
EVIL_ORIGIN = "https://evil.example"
HEADERS_ON_EVERY_ANSWER = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}
PAGES = ["/", "/login", "/signup", "/talk", "/history", "/no-such-page"]


def assert_security_headers(answer: httpx.Response) -> None:
    """The headers every answer of every entry point carries."""
    where = f"{answer.request.method} {answer.request.url}"
    for name, value in HEADERS_ON_EVERY_ANSWER.items():
        assert answer.headers.get(name) == value, f"{where}: {name} is {answer.headers.get(name)!r}"
    assert "microphone=(self)" in answer.headers.get("permissions-policy", ""), where
    assert "display-capture=(self)" in answer.headers["permissions-policy"], where
    assert "frame-ancestors 'none'" in answer.headers.get("content-security-policy", ""), where


def test_a_1_mb_json_body_is_refused_with_413_before_it_is_read(api: httpx.Client) -> None:
    declared = api.post(
        "/api/auth/login", content=ONE_MEGABYTE_JSON, headers={"content-type": "application/json"}
    )
    chunked = api.post(
        "/api/auth/login",
        content=(ONE_MEGABYTE_JSON[i : i + 65_536] for i in range(0, len(ONE_MEGABYTE_JSON), 65_536)),
        headers={"content-type": "application/json"},
    )

    for answer in (declared, chunked):
        assert answer.status_code == 413
        assert answer.json() == {"detail": "The request body is larger than the 64 KB this server accepts."}
        assert_security_headers(answer)
    assert "content-length" not in chunked.request.headers


def test_every_backend_answer_carries_the_security_headers(api: httpx.Client, backend: Backend) -> None:
    user = sign_in(api, display_name="Headers")
    answers = [
        api.get("/api/health"),
        api.get("/api/me", headers=user.headers),
        api.get("/api/me"),
        api.post("/api/create-room", json={"name": "no spaces allowed"}, headers=user.headers),
        api.get("/api/no-such-route"),
        api.get("/openapi.json"),
        api.get("/docs"),
        api.get("/ping"),
        api.get("/no-such-reflex-path"),
    ]

    assert [answer.status_code for answer in answers] == [200, 200, 401, 422, 404, 200, 200, 200, 404]
    for answer in answers:
        assert_security_headers(answer)
    assert answers[0].headers["content-security-policy"] == API_CSP
    assert "strict-transport-security" not in answers[0].headers  # http:// in development


def preflight(base_url: str, path: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{base_url}{path}",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
        timeout=10,
    )


@pytest.mark.parametrize("path", ["/api/generate-token", "/api/auth/login", "/_event/"])
def test_in_production_a_preflight_from_another_site_is_not_allowed(
    production_stack: ProductionStack, path: str
) -> None:
    own_origin = production_stack.environment("backend")["DEPLOY_URL"]

    foreign = preflight(production_stack.frontend_url, path, EVIL_ORIGIN)
    own = preflight(production_stack.frontend_url, path, own_origin)

    assert "access-control-allow-origin" not in foreign.headers
    assert own.headers["access-control-allow-origin"] == own_origin
    assert own.headers["access-control-allow-credentials"] == "true"


def test_in_production_a_request_from_another_site_gets_no_cors_grant(
    production_stack: ProductionStack,
) -> None:
    answer = httpx.get(
        f"{production_stack.frontend_url}/api/health", headers={"origin": EVIL_ORIGIN}, timeout=10
    )

    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


def test_in_production_every_page_and_api_answer_carries_the_security_headers(
    production_stack: ProductionStack,
) -> None:
    livekit_url = production_stack.environment("frontend")["LIVEKIT_PUBLIC_URL"]
    with httpx.Client(base_url=production_stack.frontend_url, timeout=10) as client:
        pages = [client.get(path) for path in PAGES]
        api_answers = [client.get("/api/health"), client.get("/api/me"), client.get("/ping")]

    for answer in pages + api_answers:
        assert_security_headers(answer)
    for page in pages:
        policy = page.headers["content-security-policy"]
        assert "script-src 'self' 'unsafe-inline'" in policy
        assert f"connect-src 'self' {livekit_url} " in policy
    for answer in api_answers:
        assert answer.headers["content-security-policy"] == API_CSP, answer.request.url


def headers_handlers(node: object) -> list[dict]:
    """Every `headers` handler in Caddy's JSON config, wherever it is nested."""
    if isinstance(node, dict):
        found = [node] if node.get("handler") == "headers" else []
        return found + [h for value in node.values() for h in headers_handlers(value)]
    if isinstance(node, list):
        return [h for item in node for h in headers_handlers(item)]
    return []


def test_the_https_profile_sends_hsts_on_every_answer() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.fail(CADDY_HINT)
    adapted = subprocess.run(
        [caddy, "adapt", "--config", "Caddyfile", "--adapter", "caddyfile"],
        cwd=REPO_ROOT / "docker",
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**tool_env(), "APP_DOMAIN": "voice.example.com"},
    )
    site = json.loads(adapted.stdout)["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0]
    first_route = site["routes"][0]  # no matcher: it applies to every request of the site

    assert "match" not in first_route
    hsts = [
        h["response"]["set"]["Strict-Transport-Security"]
        for h in headers_handlers(first_route)
        if "Strict-Transport-Security" in h.get("response", {}).get("set", {})
    ]
    assert hsts == [["max-age=31536000; includeSubDomains"]]
