"""The API app answers its own paths beside Reflex's app, which keeps everything else.

Requests reach the API app by path (`voice_app.api.serve_api_beside`), not through Reflex's
router, so a client that gets a path or a method wrong still hears back in the API's JSON, and
Reflex's own endpoints, the docs and cross-origin headers work as before.
"""

from __future__ import annotations

import httpx

from tests.factories import sign_in


def test_a_mistyped_api_path_is_a_json_404(api: httpx.Client) -> None:
    response = api.get("/api/generate-tokens")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Not Found"}


def test_a_room_name_with_a_line_break_in_the_path_is_refused_in_json(api: httpx.Client) -> None:
    user = sign_in(api, display_name="Newline")

    response = api.get("/api/rooms/%0Atalk/agent", headers=user.headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    assert response.json()["errors"][0]["field"] == "path.room"


def test_the_wrong_method_on_an_api_route_is_a_json_405(api: httpx.Client) -> None:
    response = api.get("/api/generate-token")

    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == "POST"


def test_reflexs_own_endpoints_and_the_api_docs_still_answer(api: httpx.Client) -> None:
    assert api.get("/ping").status_code == 200
    assert api.get("/_health").json()["status"] is True
    assert "/api/generate-token" in api.get("/openapi.json").json()["paths"]
    docs = api.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text


def test_the_apps_own_pages_may_read_api_answers_once(api: httpx.Client) -> None:
    user = sign_in(api, display_name="Cross Origin")
    origin = "http://localhost:3000"  # the frontend of `make dev`, on another port than the API

    preflight = api.options(
        "/api/generate-token",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    answer = api.post("/api/generate-token", json={}, headers={**user.headers, "origin": origin})

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert answer.status_code == 200
    # One CORS layer: a doubled Access-Control-Allow-Origin makes browsers refuse the answer.
    assert answer.headers.get_list("access-control-allow-origin") == [origin]
