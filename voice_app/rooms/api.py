"""The rooms routes (create a room, get a token, ask about its agent), for signed-in users only.

The routes parse, call `voice_app.rooms.service`, and map its named errors to a status in
`_service_errors`. Every status a route can answer is declared, so the OpenAPI docs (`/docs`)
list it with its schema (`voice_app.api_errors` adds the 400 every route with a body can give).
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from voice_app.api_errors import NOT_SIGNED_IN, error_responses
from voice_app.auth.deps import CurrentUser, DatabaseDep, SettingsDep
from voice_app.rooms.agent_return import AgentRecovery, recover_silent_agent
from voice_app.rooms.names import RoomName
from voice_app.rooms.service import (
    AgentDispatchStatus,
    InvalidRoomName,
    LimitExceeded,
    LiveKitUnavailable,
    RoomNotFound,
    RoomNotOwned,
    agent_dispatch_status,
    ensure_room,
    issue_token_for_room,
)

router = APIRouter(prefix="/api", tags=["rooms"])

LIVEKIT_UNREACHABLE = "LiveKit is unreachable; try again in a moment."
ROOM_NOT_OWNED = "This room belongs to another user."
ROOM_NOT_FOUND = "There is no room of that name."


class CreateRoomRequest(BaseModel):
    """Which room to create; without a name the server makes a unique one."""

    model_config = ConfigDict(extra="forbid")

    name: RoomName | None = Field(default=None, examples=["my-room"])


class RoomPublic(BaseModel):
    """A room as the API shows it to its owner."""

    name: str
    owner_id: int
    created_at: datetime


class CreateRoomResponse(BaseModel):
    """The room, and whether this request created it (201) or it existed already (200)."""

    room: RoomPublic
    created: bool


class GenerateTokenRequest(BaseModel):
    """The room to join; it is created for the caller when it does not exist yet."""

    model_config = ConfigDict(extra="forbid")

    room: RoomName | None = Field(
        default=None, examples=["my-room"], description="Omit to get a token for a new room."
    )


class TokenResponse(BaseModel):
    """What the browser needs to join its room."""

    server_url: str = Field(description="The LiveKit URL the browser connects to.")
    room: str
    identity: str = Field(description="The caller's participant identity (their user id).")
    token: str = Field(description="A LiveKit access token for this one room.")
    expires_at: datetime = Field(description="When the token can no longer be used to join.")


class AgentStatusResponse(BaseModel):
    """Whether an agent has taken the conversation in a room."""

    room: str
    agent: AgentDispatchStatus = Field(
        description=(
            "`joined`: the agent is in the room. `assigned`: a worker accepted the conversation and "
            "its agent is starting (or has left). `waiting_for_worker`: no worker took it, because "
            "every worker is full or none is running; LiveKit does not offer it again, so start a new "
            "room later. `no_dispatch`: the room is not open on LiveKit (nobody joined it lately)."
        )
    )


class AgentRecoveryResponse(BaseModel):
    """What the backend found, and did, when a client said its agent had gone silent."""

    room: str
    outcome: AgentRecovery = Field(
        description=(
            "`alive`: an agent is in the room and its heartbeat goes on; nothing was done. "
            "`replaced`: the agent was lost (its heartbeat stopped, or it left); it was removed "
            "and a new agent is joining, which goes on with the conversation. `on_its_way`: a new "
            "agent was already coming. `not_needed`: the room has no user, is closed, or its "
            "conversation was ended."
        )
    )


_ERRORS = error_responses(
    {
        401: NOT_SIGNED_IN,
        403: ROOM_NOT_OWNED,
        422: "The body is not valid JSON, or a room name breaks the naming rule.",
        429: "A per-user limit was reached (see the sentence); `Retry-After` says when to try again.",
        503: LIVEKIT_UNREACHABLE,
    }
)


_ROOM_AGENT_ERRORS = error_responses(
    {
        401: NOT_SIGNED_IN,
        403: ROOM_NOT_OWNED,
        404: ROOM_NOT_FOUND,
        422: "The room name breaks the naming rule.",
        503: LIVEKIT_UNREACHABLE,
    }
)
"""What the routes about one room's agent can answer."""


@contextmanager
def _service_errors() -> Generator[None]:
    """Map the room service's named errors to HTTP statuses, in this one place."""
    try:
        yield
    except InvalidRoomName as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    except RoomNotOwned as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN, ROOM_NOT_OWNED) from error
    except RoomNotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, ROOM_NOT_FOUND) from error
    except LimitExceeded as error:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            error.detail,
            headers={"Retry-After": str(error.retry_after_seconds)},
        ) from error
    except LiveKitUnavailable as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, LIVEKIT_UNREACHABLE) from error


@router.post(
    "/create-room",
    status_code=status.HTTP_201_CREATED,
    response_model=CreateRoomResponse,
    response_description="A new room was created for the caller.",
    responses={
        200: {"model": CreateRoomResponse, "description": "The caller's room existed already."},
        **_ERRORS,
    },
    summary="Create a LiveKit room owned by the caller",
)
async def create_room(
    user: CurrentUser,
    db: DatabaseDep,
    settings: SettingsDep,
    response: Response,
    body: Annotated[CreateRoomRequest | None, Body()] = None,
) -> CreateRoomResponse:
    """Create the room on the LiveKit server and record the caller as its owner.

    Answers 201 when the room is new and 200 when the caller already owns it (idempotent).
    """
    with _service_errors():
        room, created = await ensure_room(
            db=db, user=user, name=body.name if body else None, settings=settings
        )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return CreateRoomResponse(
        room=RoomPublic(name=room.name, owner_id=room.owner_id, created_at=room.created_at),
        created=created,
    )


@router.post(
    "/generate-token",
    response_model=TokenResponse,
    response_description="A token for the caller's room (which was created if it was new).",
    responses=_ERRORS,
    summary="Get a token to join one of the caller's rooms",
)
async def generate_token(
    user: CurrentUser,
    db: DatabaseDep,
    settings: SettingsDep,
    response: Response,
    body: Annotated[GenerateTokenRequest | None, Body()] = None,
) -> TokenResponse:
    """Issue a short-lived LiveKit token for the caller's room, creating the room if needed.

    The token joins only that room, as the caller, and dispatches the agent. Responses are
    marked `Cache-Control: no-store`: a token must never sit in a shared cache.
    """
    response.headers["Cache-Control"] = "no-store"
    with _service_errors():
        grant = await issue_token_for_room(
            db=db, user=user, room_name=body.room if body else None, settings=settings
        )
    return TokenResponse(
        server_url=grant.server_url,
        room=grant.room,
        identity=grant.identity,
        token=grant.token,
        expires_at=grant.expires_at,
    )


@router.get(
    "/rooms/{room}/agent",
    response_model=AgentStatusResponse,
    responses=_ROOM_AGENT_ERRORS,
    summary="Whether an agent has taken the conversation in one of the caller's rooms",
)
async def read_agent_status(
    user: CurrentUser,
    db: DatabaseDep,
    settings: SettingsDep,
    room: Annotated[RoomName, Path(examples=["my-room"])],
) -> AgentStatusResponse:
    """Ask LiveKit whether a worker took this room's agent job, and whether the agent is in the room.

    A client that joined a room and sees no agent after a few seconds can tell "every agent is
    busy" (`waiting_for_worker`) from "the agent is still starting" (`assigned`).
    """
    with _service_errors():
        agent = await agent_dispatch_status(db=db, user=user, room_name=room, settings=settings)
    return AgentStatusResponse(room=room, agent=agent)


@router.post(
    "/rooms/{room}/agent/recover",
    response_model=AgentRecoveryResponse,
    responses=_ROOM_AGENT_ERRORS,
    summary="Replace the agent of one of the caller's rooms if it has gone silent",
)
async def recover_agent(
    user: CurrentUser,
    db: DatabaseDep,
    settings: SettingsDep,
    room: Annotated[RoomName, Path(examples=["my-room"])],
) -> AgentRecoveryResponse:
    """Check the agent's heartbeat and, if it stopped, send a new agent into the room.

    An agent's worker counts the participant attribute `voice-app.heartbeat` up every second.
    A client that sees no change for a few seconds calls this: an agent lost with its whole
    worker otherwise stays listed, silent, until LiveKit times it out (~20 s). The backend
    watches the heartbeat itself for two seconds before it removes anything.
    """
    with _service_errors():
        outcome = await recover_silent_agent(db=db, user=user, room_name=room, settings=settings)
    return AgentRecoveryResponse(room=room, outcome=outcome)
