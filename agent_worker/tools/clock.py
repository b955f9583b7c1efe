"""The current date and time where the user is (their browser's time zone)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from livekit.agents import RunContext

from agent_worker.tools.base import ToolContext, tool


def user_zone(name: str | None) -> ZoneInfo:
    """The IANA zone ``name``, or UTC when it is missing or not a zone this machine knows."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def describe_now(now: datetime, time_zone: str | None) -> str:
    """``now`` as a sentence in the user's zone: "It is Monday 30 November 2026, 23:15 (Europe/Paris)."."""
    zone = user_zone(time_zone)
    local = now.astimezone(zone)
    where = zone.key if time_zone and zone.key == time_zone else "UTC; the user's time zone is not known"
    return f"It is {local:%A} {local.day} {local:%B %Y}, {local:%H:%M} ({where})."


@tool(running="Checking the date and time…")
async def current_date_and_time(context: RunContext[ToolContext]) -> str:
    """The current date, weekday and time where the user is.

    Use it whenever the user asks what day, date or time it is, or how long until a date.
    """
    return describe_now(datetime.now(UTC), context.userdata.time_zone)
