"""Bring an agent back to a room whose agent was lost with its whole worker.

When only a job process dies, its worker sends a new agent at once (``agent_worker/recovery.py``).
When the worker itself is gone (killed, its machine lost) nobody there is left to do it, and
LiveKit does not dispatch the job again. LiveKit does tell the backend, through its webhook, when
the lost agent finally leaves the room; then, if the room still has its user and a conversation
that no agent ended, the backend asks LiveKit for a new agent, marked as resuming, which goes on
with the stored conversation.
"""

from __future__ import annotations

import logging
import time
from functools import partial

from livekit import api
from sqlmodel import Session, col, select

from voice_app.db import get_database
from voice_app.history.models import Conversation
from voice_app.protocol import AgentDispatchMetadata
from voice_app.rooms.livekit_client import call_livekit, get_livekit_api
from voice_app.settings import Settings

logger = logging.getLogger(__name__)

RECENT_DISPATCH_SECONDS = 15.0
"""A dispatch this young is an agent already on its way (e.g. sent by a worker): no second one."""


def _seconds(timestamp: int) -> float:
    """LiveKit's dispatch times as Unix seconds (they come in nanoseconds)."""
    return timestamp / 1e9 if timestamp > 1e15 else timestamp / 1e3 if timestamp > 1e12 else float(timestamp)


def _unfinished_conversation_in(session: Session, *, room_name: str) -> bool:
    found = session.exec(
        select(Conversation.id)
        .where(Conversation.room_name == room_name)
        .where(col(Conversation.ended_at).is_(None))
        .limit(1)
    ).first()
    return found is not None


async def return_agent_if_lost(room_name: str, *, settings: Settings) -> bool:
    """Dispatch a resuming agent to ``room_name`` if its user is there and its agent was lost."""
    livekit = get_livekit_api(settings)
    listed = await call_livekit(
        livekit.room.list_participants(api.ListParticipantsRequest(room=room_name)), settings=settings
    )
    kinds = [participant.kind for participant in listed.participants]
    if api.ParticipantInfo.Kind.STANDARD not in kinds or api.ParticipantInfo.Kind.AGENT in kinds:
        return False
    if not await get_database().run(partial(_unfinished_conversation_in, room_name=room_name)):
        return False  # the agent ended the conversation itself: nothing was lost
    dispatches = await call_livekit(livekit.agent_dispatch.list_dispatch(room_name), settings=settings)
    ours = [d for d in dispatches if d.agent_name == settings.AGENT_NAME]
    if any(time.time() - _seconds(d.state.created_at) < RECENT_DISPATCH_SECONDS for d in ours):
        return False
    metadata = ours[-1].metadata if ours else ""
    await call_livekit(
        livekit.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(
                agent_name=settings.AGENT_NAME,
                room=room_name,
                metadata=AgentDispatchMetadata.resumed_from(metadata),
            )
        ),
        settings=settings,
    )
    logger.warning("agent lost with its worker; a new agent was sent", extra={"room": room_name})
    return True
