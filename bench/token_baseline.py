"""The baseline of `token_throughput.py`: a bare Starlette endpoint that signs the same JWT.

Its own module so that the server process imports only what the endpoint needs (Starlette and
the app's token code), not the benchmark's harness: a bigger heap would slow the baseline's
garbage collections and flatter the backend.

    granian --interface asgi bench.token_baseline:app
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from voice_app.auth.models import SignedInUser
from voice_app.rooms.tokens import issue_participant_token
from voice_app.settings import get_settings

PATH = "/api/generate-token"

_USER = SignedInUser(id=1, email="bench@example.com", display_name="Bench", created_at=datetime.now(UTC))


async def _token(request: Request) -> JSONResponse:
    body = await request.json()
    grant = issue_participant_token(user=_USER, room_name=body["room"], settings=get_settings())
    return JSONResponse(
        {
            "server_url": grant.server_url,
            "room": grant.room,
            "identity": grant.identity,
            "token": grant.token,
            "expires_at": grant.expires_at.isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


app = Starlette(routes=[Route(PATH, _token, methods=["POST"])])
