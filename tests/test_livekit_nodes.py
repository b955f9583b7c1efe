"""Two livekit-server nodes sharing Redis (LiveKit's own distributed mode), two backends sharing
one database, one agent worker: users reach their agent through either node, and users of a node
that dies are back talking after they try again.

The worker is registered with the first node only: LiveKit routes each room's agent dispatch
through Redis to it, whichever node the user came through. In production the nodes sit behind one
address (a load balancer, or LiveKit's Helm chart on Kubernetes): the client's retry here goes to
the node that is up, through the backend that is up, as that address would send it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from livekit import rtc

from tests.factories import SignedInUser, sign_in
from tests.support.backend import Backend, new_database
from tests.support.inference import InferenceService
from tests.support.livekit import LiveKitServer
from tests.support.production import RedisServer
from tests.support.voice_client import VoiceClient
from tests.support.worker import AgentWorker
from tests.test_agent_worker import GREETING_TIMEOUT, REPLY_TIMEOUT, stored_conversations

pytestmark = pytest.mark.slow

GENEROUS_LIMITS = {"TOKEN_REQUESTS_PER_MINUTE": "1000", "ROOM_CREATIONS_PER_MINUTE": "1000"}
BACK_WITHIN_SECONDS = 45
"""A node that died still looks alive to the others for a few seconds (its last stats in Redis)."""


@dataclass
class TwoNodes:
    redis: RedisServer
    nodes: tuple[LiveKitServer, LiveKitServer]
    backends: tuple[Backend, Backend]
    """The first backend gives out the first node's URL, the second the second's."""
    worker: AgentWorker


@pytest.fixture(scope="module")
def two_nodes(
    tmp_path_factory: pytest.TempPathFactory, inference_service: InferenceService
) -> Iterator[TwoNodes]:
    workdir = tmp_path_factory.mktemp("livekit-nodes")
    redis = RedisServer(workdir, ["redis-server", "--save", "", "--appendonly", "no"]).start()
    address = f"127.0.0.1:{redis.port}"
    first = LiveKitServer(workdir, redis_address=address).start()
    second = LiveKitServer(workdir, redis_address=address, api_secret=first.api_secret).start()
    database_url = new_database(workdir)
    backends = tuple(
        Backend(_subdir(workdir, f"backend-{n}"), node, GENEROUS_LIMITS, database_url=database_url).start()
        for n, node in enumerate((first, second))
    )
    worker = AgentWorker(workdir / "worker", first, backends[0], inference_service).start()
    yield TwoNodes(redis, (first, second), (backends[0], backends[1]), worker)
    worker.stop()
    for backend in backends:
        backend.stop()
    second.stop()
    first.stop()
    redis.stop()


def _subdir(parent: Path, name: str) -> Path:
    path = parent / name
    path.mkdir(exist_ok=True)
    return path


async def talk(client: VoiceClient, question: str) -> None:
    """Hear the greeting, type ``question``, hear the answer."""
    await client.wait_for("the greeting", lambda: client.agent_transcripts(), GREETING_TIMEOUT)
    sent = await client.send_chat(question)
    await client.wait_for(
        f"an answer to {question!r}", lambda: client.agent_transcripts(after=sent), REPLY_TIMEOUT
    )


async def test_users_joining_through_either_node_reach_their_agent(two_nodes: TwoNodes) -> None:
    users: list[SignedInUser] = []
    for backend, node in zip(two_nodes.backends, two_nodes.nodes, strict=True):
        with httpx.Client(base_url=backend.base_url, timeout=30) as api:
            user = sign_in(api, display_name=f"Through {node.port}")
            users.append(user)
            client = await VoiceClient.join(api, user)
            try:
                await talk(client, "Which node am I on?")
            finally:
                await client.close()
    for user in users:  # both backends write to the one database
        conversations = await asyncio.to_thread(stored_conversations, two_nodes.backends[0], user.user_id)
        assert [m.text for _c, messages in conversations for m in messages if m.role == "user"] == [
            "Which node am I on?"
        ]


async def test_when_a_node_dies_its_users_reconnect_and_are_back_talking_after_trying_again(
    two_nodes: TwoNodes,
) -> None:
    second = two_nodes.nodes[1]
    with (
        httpx.Client(base_url=two_nodes.backends[1].base_url, timeout=30) as through_second,
        httpx.Client(base_url=two_nodes.backends[0].base_url, timeout=30) as through_first,
    ):
        user = sign_in(through_second, display_name="Grace")
        client = await VoiceClient.join(through_second, user)
        try:
            await talk(client, "Are you there?")
            second.kill()
            await client.wait_for(
                "the client noticing the node is gone",
                lambda: {"reconnecting", "disconnected"} & set(client.connection_events),
                30,
            )
        finally:
            await client.close()

        # Try again, through what is up (the backends share the database, so she is still signed in)
        again = await join_again(through_first, user)
        try:
            await talk(again, "Still there after the node died?")
        finally:
            await again.close()
    second.start()  # for the tests after this one


async def join_again(api: httpx.Client, user: SignedInUser) -> VoiceClient:
    """Press "Try again" until it works: the dead node can still be chosen for a new room a while."""
    deadline = time.monotonic() + BACK_WITHIN_SECONDS
    while True:
        try:
            return await asyncio.wait_for(VoiceClient.join(api, user), 15)
        except (AssertionError, TimeoutError, ConnectionError, rtc.ConnectError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(2)
