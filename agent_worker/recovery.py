"""Bring the agent back when its job process dies in the middle of a conversation.

LiveKit does not dispatch a job again when the process running it dies (killed, out of memory,
crashed): the user is left with a silent agent that LiveKit only drops some 20 s later. The
worker's main process sees the death at once, so it asks LiveKit for a new agent in that room
(AgentDispatchService) with the same dispatch metadata marked ``resumed``, and removes the dead
agent's participant, so the page sees it go now rather than when LiveKit times it out. The new
job finds the conversation in the database and goes on with it (``agent_worker/resume.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from livekit import api
from livekit.agents import ipc
from livekit.agents.job import RunningJobInfo

from agent_worker.readiness import ReadyAgentServer
from voice_app.protocol import AgentDispatchMetadata

logger = logging.getLogger(__name__)


class AgentReplacer:
    """Asks LiveKit for a new agent in a room whose agent was lost, if its user is still there."""

    def __init__(self, url: str, api_key: str, api_secret: str) -> None:
        self._url = url
        self._api_key = api_key
        self._api_secret = api_secret

    async def replace(self, lost: RunningJobInfo) -> bool:
        """Remove the lost agent from its room and dispatch a new one; False if nobody is left."""
        room = lost.job.room.name
        async with api.LiveKitAPI(self._url, self._api_key, self._api_secret) as livekit:
            try:
                listed = await livekit.room.list_participants(api.ListParticipantsRequest(room=room))
            except api.TwirpError:
                return False  # the room is gone
            if not any(p.kind == api.ParticipantInfo.Kind.STANDARD for p in listed.participants):
                return False
            # dispatch first: when the dead agent leaves, the backend (webhook) sees a new one on its way
            await livekit.agent_dispatch.create_dispatch(
                api.CreateAgentDispatchRequest(
                    agent_name=lost.job.agent_name,
                    room=room,
                    metadata=AgentDispatchMetadata.resumed_from(lost.job.metadata),
                )
            )
            identity = lost.accept_arguments.identity
            if any(p.identity == identity for p in listed.participants):
                try:
                    await livekit.room.remove_participant(
                        api.RoomParticipantIdentity(room=room, identity=identity)
                    )
                except api.TwirpError:
                    logger.debug("the lost agent had already left", exc_info=True)
        return True


class RecoveringAgentServer(ReadyAgentServer):
    """A worker that replaces the agent of any job whose process ends in failure."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replacer = AgentReplacer(kwargs["ws_url"], kwargs["api_key"], kwargs["api_secret"])
        self._replaced: set[str] = set()
        self._replacing: set[asyncio.Task[None]] = set()

    # livekit-agents (1.8.9) calls this for every job process that starts, gets a job or exits;
    # a process that exits with a non-zero code while running a job has status FAILED.
    async def _update_job_status(self, proc: ipc.job_executor.JobExecutor) -> None:
        await super()._update_job_status(proc)
        lost = proc.running_job
        if lost is None or proc.status != ipc.job_executor.JobStatus.FAILED:
            return
        if lost.job.id in self._replaced or lost.fake_job:
            return
        self._replaced.add(lost.job.id)
        task = asyncio.create_task(self._replace(lost))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _replace(self, lost: RunningJobInfo) -> None:
        extra = {"job_id": lost.job.id, "room": lost.job.room.name}
        try:
            if await self._replacer.replace(lost):
                logger.warning("agent process died; a new agent was sent to its room", extra=extra)
        except Exception:
            logger.exception("agent process died and no new agent could be sent", extra=extra)
