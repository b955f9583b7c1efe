"""Two livekit-server nodes sharing Redis (LiveKit's own distributed mode), two backends sharing
one database, one agent worker: users reach their agent through either node, and users of a node
that dies are back talking after they try again.

The worker is registered with the first node only (`tests/support/nodes.py`). In production the
nodes sit behind one address (a load balancer, or LiveKit's Helm chart on Kubernetes): the
client's retry here goes to the node that is up, through the backend that is up, as that address
would send it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from livekit import rtc

from tests.factories import SignedInUser, sign_in
from tests.support.inference import InferenceService
from tests.support.nodes import TwoNodes
from tests.support.voice_client import VoiceClient
from tests.test_agent_worker import GREETING_TIMEOUT, REPLY_TIMEOUT, stored_conversations

pytestmark = pytest.mark.slow

GENEROUS_LIMITS = {"TOKEN_REQUESTS_PER_MINUTE": "1000", "ROOM_CREATIONS_PER_MINUTE": "1000"}
BACK_WITHIN_SECONDS = 45
"""A node that died still looks alive to the others for a few seconds (its last stats in Redis)."""


@pytest.fixture(scope="module")
def two_nodes(
    tmp_path_factory: pytest.TempPathFactory, inference_service: InferenceService
) -> Iterator[TwoNodes]:
    stack = TwoNodes.start(
        tmp_path_factory.mktemp("livekit-nodes"), inference_service, backend_env=GENEROUS_LIMITS
    )
    yield stack
    stack.stop()


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
