"""`GET /api/health`: is the database reachable, and does the LiveKit server answer?"""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from livekit import api
from pydantic import BaseModel
from sqlalchemy import text
from sqlmodel import Session

from voice_app.db import DatabaseUnavailable, get_database
from voice_app.rooms.livekit_client import LiveKitUnavailable, call_livekit, get_livekit_api

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class HealthReport(BaseModel):
    """Each part is "ok", or a word for what is wrong with it."""

    status: str
    database: str
    livekit: str


def _select_one(session: Session) -> None:
    session.connection().execute(text("SELECT 1"))


async def _check_database() -> str:
    try:
        await get_database().run(_select_one)
    except DatabaseUnavailable as error:
        return "busy" if error.busy else "unreachable"
    return "ok"


async def _check_livekit() -> str:
    try:
        await call_livekit(get_livekit_api().room.list_rooms(api.ListRoomsRequest(names=["health-probe"])))
    except LiveKitUnavailable:
        return "unreachable"
    except api.TwirpError:
        logger.warning("Health check: LiveKit refused the API credentials")
        return "unauthorized"
    return "ok"


@router.get(
    "/api/health",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "A part is down; it is named."}},
)
async def health() -> JSONResponse:
    """Check the database and the LiveKit server live; 503 names the part that is down."""
    database, livekit = await asyncio.gather(_check_database(), _check_livekit())
    healthy = database == "ok" and livekit == "ok"
    report = HealthReport(status="ok" if healthy else "degraded", database=database, livekit=livekit)
    return JSONResponse(report.model_dump(), status_code=200 if healthy else 503)
