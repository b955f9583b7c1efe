"""``POST /api/livekit/webhook``: LiveKit's signed notices of what happens in rooms.

Only one notice matters here: an agent leaving a room (``participant_left`` of an agent), which
may mean its worker was lost (see ``voice_app/rooms/agent_return.py``). The body is verified with
the LiveKit API secret (the ``Authorization`` header is a JWT carrying the body's SHA-256), through
the LiveKit SDK's ``WebhookReceiver``.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response, status
from livekit import api

from voice_app.api_errors import error_responses
from voice_app.rooms.agent_return import return_agent_if_lost
from voice_app.settings import Settings, get_settings

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["livekit"])

INVALID_SIGNATURE = "The webhook is not signed with this server's LiveKit key."


async def _return_agent(room_name: str, lost_agent: str, settings: Settings) -> None:
    try:
        await return_agent_if_lost(room_name, settings=settings, lost={lost_agent})
    except Exception:
        logger.exception("could not check the room of a lost agent", extra={"room": room_name})


@router.post(
    "/livekit/webhook",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses({401: INVALID_SIGNATURE}),
    summary="LiveKit webhook (called by livekit-server)",
)
async def livekit_webhook(request: Request, background: BackgroundTasks) -> Response:
    """Verify a LiveKit webhook; when an agent left a room, check whether it must come back."""
    settings = get_settings()
    receiver = api.WebhookReceiver(api.TokenVerifier(settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET))
    body = await request.body()
    try:
        event = receiver.receive(body.decode(), request.headers.get("authorization", ""))
    except Exception:  # not UTF-8, no or a wrong signature, a body that does not match its hash
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, INVALID_SIGNATURE) from None
    if event.event == "participant_left" and event.participant.kind == api.ParticipantInfo.Kind.AGENT:
        background.add_task(_return_agent, event.room.name, event.participant.identity, settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
