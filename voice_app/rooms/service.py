"""Rooms and tokens as the rest of the app uses them: routes and the talk page call these.

The database is the authority on who owns a room; LiveKit only hosts it. A name is claimed in
the database before LiveKit hears of it, so a user can never create, reconfigure or join a room
someone else owns, even when two users race for the same name.

Errors are named: `InvalidRoomName`, `RoomNotFound`, `RoomNotOwned`, and `LiveKitUnavailable`
(LiveKit did not answer in time, or refused). Callers map them to a status code or a message in
one place.
"""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial
from typing import Literal

from livekit import api
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from voice_app.auth.models import SignedInUser
from voice_app.db import Database
from voice_app.limits.per_user import LimitExceeded, get_user_limits
from voice_app.rooms.livekit_client import LiveKitUnavailable, call_livekit, get_livekit_api
from voice_app.rooms.models import Room
from voice_app.rooms.names import InvalidRoomName, generate_room_name, validate_room_name
from voice_app.rooms.tokens import TokenGrant, issue_participant_token, room_configuration
from voice_app.settings import Settings

__all__ = [
    "AgentDispatchStatus",
    "InvalidRoomName",
    "LimitExceeded",
    "LiveKitUnavailable",
    "RoomNotFound",
    "RoomNotOwned",
    "TokenGrant",
    "agent_dispatch_status",
    "ensure_room",
    "issue_token_for_room",
    "require_own_room",
]

logger = logging.getLogger(__name__)


class RoomNotOwned(Exception):
    """The room exists and belongs to another user."""


class RoomNotFound(Exception):
    """No user has a room of that name."""


AgentDispatchStatus = Literal["joined", "assigned", "waiting_for_worker", "no_dispatch"]
"""How far the app's agent has come in a room (see `agent_dispatch_status`)."""


def _find_room(session: Session, name: str) -> Room | None:
    return session.exec(select(Room).where(Room.name == name)).first()


def _find_owner(session: Session, name: str) -> int | None:
    """The owner's id of room ``name``, or None when nobody has it."""
    return session.exec(select(Room.owner_id).where(Room.name == name)).first()


def _claim_room(session: Session, *, user: SignedInUser, name: str) -> tuple[Room, bool]:
    """Record ``name`` as owned by ``user`` unless it is recorded already; `RoomNotOwned` if not theirs."""
    room = _find_room(session, name)
    created = False
    if room is None:
        room = Room(name=name, owner_id=user.id)
        session.add(room)
        try:
            session.commit()
            created = True
        except IntegrityError:
            # Someone recorded the same name between our read and our insert.
            session.rollback()
            room = _find_room(session, name)
            if room is None:
                raise
    if room.owner_id != user.id:
        raise RoomNotOwned(name)
    return room, created


def _release_claim(session: Session, *, room: Room, created: bool) -> None:
    """Forget a name this request claimed, so a failed creation leaves nothing behind."""
    if created:
        session.exec(delete(Room).where(col(Room.id) == room.id))
        session.commit()


ROOM_PLACEMENT_RETRY_SECONDS = (0.5, 1.0, 2.0)
"""LiveKit answers CreateRoom with "could not find any available nodes" (a 500) while its own node
looks stale to it: it counts a node only if its stats were refreshed in the last 5 s, and on a
saturated machine the refresh can run late. Seen in the suite on 2 cores; the next try works."""


async def _create_on_livekit(*, user: SignedInUser, name: str, settings: Settings) -> None:
    config = room_configuration(user=user, settings=settings)
    request = api.CreateRoomRequest(
        name=name,
        empty_timeout=config.empty_timeout,
        max_participants=config.max_participants,
        metadata=config.metadata,
        agents=config.agents,
    )
    for retry_in in (*ROOM_PLACEMENT_RETRY_SECONDS, None):
        try:
            await call_livekit(get_livekit_api(settings).room.create_room(request), settings=settings)
            return
        except LiveKitUnavailable as error:
            if retry_in is None or not isinstance(error.__cause__, api.TwirpError):
                raise  # out of tries, or no answer at all (each try already waited the full timeout)
            logger.warning("LiveKit could not place the room; trying again", extra={"room": name})
            await asyncio.sleep(retry_in)


async def _open_rooms_of(user: SignedInUser, settings: Settings) -> set[str]:
    """Names of ``user``'s rooms LiveKit has open (each one an agent job, running or waiting).

    Read from the owner LiveKit holds in each room's metadata: the backend writes it, and no
    participant token can change it. Every open room is listed, which is cheap because the
    per-user limits keep their number near the number of conversations the workers can hold.
    """
    listed = await call_livekit(
        get_livekit_api(settings).room.list_rooms(api.ListRoomsRequest()), settings=settings
    )
    owned: set[str] = set()
    for room in listed.rooms:
        try:
            owner_id = json.loads(room.metadata or "{}").get("owner_id")
        except (ValueError, AttributeError):
            continue
        if owner_id == user.id:
            owned.add(room.name)
    return owned


async def ensure_room(
    *, db: Database, user: SignedInUser, name: str | None, settings: Settings
) -> tuple[Room, bool]:
    """Make sure ``user``'s room ``name`` exists on LiveKit and in the database.

    Without a name a fresh unique one is made. Returns the room and whether this call recorded
    it. LiveKit's CreateRoom is idempotent, so an owned room is re-created there when LiveKit
    has closed it in the meantime.

    A room that is open on LiveKit is only looked up. Opening one (new, or closed on LiveKit)
    counts against ROOM_CREATIONS_PER_MINUTE and is refused while the user has
    CONVERSATIONS_PER_USER rooms open.

    Raises:
        InvalidRoomName: ``name`` breaks the naming rule.
        RoomNotOwned: another user owns ``name``.
        LimitExceeded: the user created rooms too often or has too many open.
        LiveKitUnavailable: LiveKit did not answer in time or refused (a newly claimed name is
            released).

    """
    name = validate_room_name(name) if name is not None else generate_room_name(user.id)
    limits = get_user_limits()
    async with limits.room_creation_turn(user.id):
        open_rooms = await _open_rooms_of(user, settings)
        if name in open_rooms:
            return await db.run(partial(_claim_room, user=user, name=name))
        await limits.check_room_creation_rate(user.id)
        limits.check_open_conversations(len(open_rooms))
        opened = await _open_room(db=db, user=user, name=name, settings=settings)
        await limits.count_room_creation(user.id)
        return opened


async def _open_room(*, db: Database, user: SignedInUser, name: str, settings: Settings) -> tuple[Room, bool]:
    """Claim ``name`` for ``user`` and create it on LiveKit (see `ensure_room`)."""
    room, created = await db.run(partial(_claim_room, user=user, name=name))
    release_claim = partial(_release_claim, room=room, created=created)
    try:
        await _create_on_livekit(user=user, name=name, settings=settings)
    except api.TwirpError as error:
        # LiveKit answered but refused (wrong API key, a limit): the user can only wait, the operator must act.
        logger.error("LiveKit refused to create a room", extra={"room": name, "twirp_code": error.code})
        await db.run(release_claim)
        raise LiveKitUnavailable("The LiveKit server refused to create the room.") from error
    except BaseException:
        await asyncio.shield(db.run(release_claim))
        raise
    if created:
        logger.info("Room created", extra={"room": name, "user_id": user.id})
    return room, created


async def issue_token_for_room(
    *, db: Database, user: SignedInUser, room_name: str | None, settings: Settings
) -> TokenGrant:
    """A token for ``user`` to join ``room_name``, creating the room first when it is new.

    Without a name, a new room is made. A room the user already owns is not sent to LiveKit
    again: the token carries the room's configuration, so LiveKit re-creates a closed room
    identically on join. That keeps this path to one indexed read and one signature.

    Raises:
        InvalidRoomName: ``room_name`` breaks the naming rule.
        RoomNotOwned: another user owns ``room_name``.
        LimitExceeded: the user asked for tokens too often, or a new room was refused (see `ensure_room`).
        LiveKitUnavailable: the room had to be created and LiveKit did not answer in time.

    """
    await get_user_limits().count_token_request(user.id)
    owner_id = (
        await db.run(partial(_find_owner, name=validate_room_name(room_name)))
        if room_name is not None
        else None
    )
    if room_name is None or owner_id is None:
        room, _created = await ensure_room(db=db, user=user, name=room_name, settings=settings)
        return issue_participant_token(user=user, room_name=room.name, settings=settings)
    if owner_id != user.id:
        raise RoomNotOwned(room_name)
    return issue_participant_token(user=user, room_name=room_name, settings=settings)


async def require_own_room(*, db: Database, user: SignedInUser, room_name: str) -> None:
    """Raise unless ``user`` owns ``room_name`` (`InvalidRoomName`, `RoomNotFound`, `RoomNotOwned`)."""
    owner_id = await db.run(partial(_find_owner, name=validate_room_name(room_name)))
    if owner_id is None:
        raise RoomNotFound(room_name)
    if owner_id != user.id:
        raise RoomNotOwned(room_name)


async def agent_dispatch_status(
    *, db: Database, user: SignedInUser, room_name: str, settings: Settings
) -> AgentDispatchStatus:
    """How far this app's agent (``AGENT_NAME``) has come in ``user``'s room ``room_name``.

    LiveKit keeps the dispatch the room configuration asks for, and adds a job to it when a
    worker accepts; with every worker full, or none registered, the dispatch stays without a job
    and LiveKit does not offer it again. So a room still ``waiting_for_worker`` a few seconds
    after it opened will get no agent.

    Returns:
        ``joined`` (the agent of an accepted job is in the room), ``assigned`` (a worker accepted;
        its agent is starting, or has left), ``waiting_for_worker`` (no worker took the job), or
        ``no_dispatch`` (LiveKit has no such room open, or it dispatches no agent of this name).

    Raises:
        InvalidRoomName: ``room_name`` breaks the naming rule.
        RoomNotFound: nobody owns ``room_name``.
        RoomNotOwned: another user owns it.
        LiveKitUnavailable: LiveKit did not answer in time, or refused.

    """
    await require_own_room(db=db, user=user, room_name=room_name)
    livekit = get_livekit_api(settings)
    try:
        # ListDispatch on a room LiveKit does not host waits out its RPC timeout and answers 503.
        open_rooms = await call_livekit(
            livekit.room.list_rooms(api.ListRoomsRequest(names=[room_name])), settings=settings
        )
        if not open_rooms.rooms:
            return "no_dispatch"
        dispatches = await call_livekit(livekit.agent_dispatch.list_dispatch(room_name), settings=settings)
        ours = [dispatch for dispatch in dispatches if dispatch.agent_name == settings.AGENT_NAME]
        if not ours:
            return "no_dispatch"
        jobs = [job for dispatch in ours for job in dispatch.state.jobs]
        if not jobs:
            return "waiting_for_worker"
        participants = await call_livekit(
            livekit.room.list_participants(api.ListParticipantsRequest(room=room_name)), settings=settings
        )
    except api.TwirpError as error:
        # The room closed between two calls, or LiveKit refused the key: nothing the user can fix.
        logger.warning("LiveKit refused an agent status", extra={"room": room_name, "twirp_code": error.code})
        raise LiveKitUnavailable("The LiveKit server refused to describe the room.") from error
    agent_identities = {job.state.participant_identity for job in jobs}
    if any(participant.identity in agent_identities for participant in participants.participants):
        return "joined"
    return "assigned"
