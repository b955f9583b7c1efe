"""The agent's heartbeat: an attribute its worker counts up every second while the agent lives.

LiveKit keeps a participant whose process vanished (its whole worker killed, its machine lost)
in the room until its connection times out, some 20 s later, and nothing of the worker is left to
say so. A heartbeat that stops is what lets the user's page notice within a few seconds and ask
the backend for a new agent (``voice_app/rooms/agent_return.py``).
"""

from __future__ import annotations

import asyncio
import logging

from livekit import rtc
from livekit.agents import JobContext

from voice_app.protocol import HEARTBEAT_ATTRIBUTE, HEARTBEAT_INTERVAL_SECONDS

logger = logging.getLogger(__name__)


async def beat(participant: rtc.LocalParticipant, *, interval: float = HEARTBEAT_INTERVAL_SECONDS) -> None:
    """Count the heartbeat attribute up every ``interval`` seconds, until cancelled.

    A beat that cannot be sent (the room reconnecting) is skipped, not queued: only the latest
    count matters.
    """
    count = 0
    while True:
        count += 1
        try:
            await asyncio.wait_for(participant.set_attributes({HEARTBEAT_ATTRIBUTE: str(count)}), interval)
        except Exception:  # TimeoutError while the room reconnects, or the room already closed
            logger.debug("a heartbeat was not sent", exc_info=True)
        await asyncio.sleep(interval)


def keep_beating(ctx: JobContext) -> None:
    """Beat for the agent of ``ctx`` from now until its job shuts down."""
    task = asyncio.create_task(beat(ctx.room.local_participant), name="agent-heartbeat")

    async def stop(_reason: str) -> None:
        task.cancel()

    ctx.add_shutdown_callback(stop)
