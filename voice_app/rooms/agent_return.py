"""Bring an agent back to a room whose agent was lost with its whole worker.

When only a job process dies, its worker sends a new agent at once (``agent_worker/recovery.py``).
When the worker itself is gone (killed, its machine lost) nobody there is left to do it, LiveKit
does not dispatch the job again, and it keeps the lost agent listed in the room, silent, until its
connection times out (~20 s). Two things bring a new one, whichever comes first:

- the user's client: an agent counts a heartbeat attribute up every second
  (``agent_worker/heartbeat.py``); a page or API client that saw none for a few seconds asks
  `recover_silent_agent`, which checks the beat itself, removes an agent whose beat stopped, and
  sends a new one;
- LiveKit's webhook, when the lost agent finally leaves (`return_agent_if_lost`).

Either way the new agent is marked as resuming and goes on with the stored conversation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Literal

from livekit import api
from sqlmodel import Session, col, select

from voice_app.auth.models import SignedInUser
from voice_app.db import Database, get_database
from voice_app.history.models import Conversation
from voice_app.protocol import HEARTBEAT_ATTRIBUTE, HEARTBEAT_INTERVAL_SECONDS, AgentDispatchMetadata
from voice_app.rooms.livekit_client import LiveKitUnavailable, call_livekit, get_livekit_api
from voice_app.rooms.service import require_own_room
from voice_app.settings import Settings

logger = logging.getLogger(__name__)

RECENT_DISPATCH_SECONDS = 15.0
"""A dispatch this young is an agent already on its way (e.g. sent by a worker): no second one."""
HEARTBEAT_CHECK_SECONDS = 2 * HEARTBEAT_INTERVAL_SECONDS
"""How long the backend watches an agent's heartbeat before it calls the agent silent."""

AgentRecovery = Literal["alive", "replaced", "on_its_way", "not_needed"]
"""What was found: an agent is in the room and its heartbeat goes on (``alive``); the agent was
lost and a new one was sent (``replaced``); a new agent was already coming (``on_its_way``); the
room has no user, or its conversation was ended by the agent (``not_needed``)."""


def _seconds(timestamp: int) -> float:
    """LiveKit's dispatch times as Unix seconds (they come in nanoseconds)."""
    return timestamp / 1e9 if timestamp > 1e15 else timestamp / 1e3 if timestamp > 1e12 else float(timestamp)


def silent_agents(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> set[str]:
    """The agents whose heartbeat did not move between two looks at the room.

    Both maps are agent identity -> heartbeat attribute (None for an agent that has none, e.g.
    one of an older worker: it is never called silent). An agent that left in between is not
    silent either: it is gone.
    """
    return {
        identity
        for identity, beat in after.items()
        if beat is not None and identity in before and before[identity] == beat
    }


def agent_on_its_way(dispatches: Iterable[api.AgentDispatch], *, lost: set[str], now: float) -> bool:
    """Whether one of ``dispatches`` is an agent still coming: young, and not one of the ``lost``."""
    return any(
        now - _seconds(dispatch.state.created_at) < RECENT_DISPATCH_SECONDS
        and not any(job.state.participant_identity in lost for job in dispatch.state.jobs)
        for dispatch in dispatches
    )


def _unfinished_conversation_in(session: Session, *, room_name: str) -> bool:
    found = session.exec(
        select(Conversation.id)
        .where(Conversation.room_name == room_name)
        .where(col(Conversation.ended_at).is_(None))
        .limit(1)
    ).first()
    return found is not None


async def _agent_heartbeats(
    livekit: api.LiveKitAPI, room_name: str, settings: Settings
) -> dict[str, str | None]:
    listed = await call_livekit(
        livekit.room.list_participants(api.ListParticipantsRequest(room=room_name)), settings=settings
    )
    return {
        participant.identity: participant.attributes.get(HEARTBEAT_ATTRIBUTE)
        for participant in listed.participants
        if participant.kind == api.ParticipantInfo.Kind.AGENT
    }


async def return_agent_if_lost(
    room_name: str, *, settings: Settings, lost: set[str] | None = None
) -> AgentRecovery:
    """Dispatch a resuming agent to ``room_name`` if its user is there and its agent was lost.

    ``lost`` names agents known to be gone (left, or removed as silent): a dispatch that sent
    one of them is not "an agent on its way".
    """
    livekit = get_livekit_api(settings)
    listed = await call_livekit(
        livekit.room.list_participants(api.ListParticipantsRequest(room=room_name)), settings=settings
    )
    kinds = [participant.kind for participant in listed.participants]
    if api.ParticipantInfo.Kind.AGENT in kinds:
        return "alive"
    if api.ParticipantInfo.Kind.STANDARD not in kinds:
        return "not_needed"
    if not await get_database().run(partial(_unfinished_conversation_in, room_name=room_name)):
        return "not_needed"  # the agent ended the conversation itself: nothing was lost
    dispatches = await call_livekit(livekit.agent_dispatch.list_dispatch(room_name), settings=settings)
    ours = [d for d in dispatches if d.agent_name == settings.AGENT_NAME]
    if agent_on_its_way(ours, lost=lost or set(), now=time.time()):
        return "on_its_way"
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
    return "replaced"


async def recover_silent_agent(
    *, db: Database, user: SignedInUser, room_name: str, settings: Settings
) -> AgentRecovery:
    """Replace the agent of ``user``'s room if its heartbeat has stopped.

    The client's word is not taken for it: the heartbeat is read twice, `HEARTBEAT_CHECK_SECONDS`
    apart, and only an agent whose beat did not move is removed.

    Raises:
        InvalidRoomName, RoomNotFound, RoomNotOwned: as `require_own_room`.
        LiveKitUnavailable: LiveKit did not answer in time, or refused.

    """
    await require_own_room(db=db, user=user, room_name=room_name)
    try:
        return await _replace_if_silent(room_name, settings)
    except api.TwirpError as error:
        if error.code == api.TwirpErrorCode.NOT_FOUND:
            return "not_needed"  # LiveKit does not host the room (any more)
        logger.warning("LiveKit refused an agent check", extra={"room": room_name, "twirp_code": error.code})
        raise LiveKitUnavailable("The LiveKit server refused to describe the room.") from error


async def _replace_if_silent(room_name: str, settings: Settings) -> AgentRecovery:
    livekit = get_livekit_api(settings)
    before = await _agent_heartbeats(livekit, room_name, settings)
    if before:
        await asyncio.sleep(HEARTBEAT_CHECK_SECONDS)
    after = await _agent_heartbeats(livekit, room_name, settings)
    silent = silent_agents(before, after)
    if set(after) - silent:
        return "alive"
    for identity in silent:
        try:
            await call_livekit(
                livekit.room.remove_participant(
                    api.RoomParticipantIdentity(room=room_name, identity=identity)
                ),
                settings=settings,
            )
        except api.TwirpError:
            logger.debug("the silent agent had already left", exc_info=True)
    if silent:
        logger.warning("an agent's heartbeat stopped; it was removed", extra={"room": room_name})
    return await return_agent_if_lost(room_name, settings=settings, lost=silent)
