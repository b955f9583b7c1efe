"""One user cannot take the system for themselves: per-user limits on rooms, tokens and
conversations, counted in Redis when several backend processes share the load."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from livekit import api as livekit_api

from tests.factories import SignedInUser, sign_in
from tests.support.backend import UNSERVED_AGENT_NAME, Backend
from tests.support.livekit import LiveKitServer
from tests.support.processes import wait_until
from tests.support.production import RedisServer
from tests.support.worker import AgentWorker, Deployment
from voice_app.settings import Settings

pytestmark = pytest.mark.slow

DEFAULTS = Settings()
BURST = 20


WARM_UP_DELAY = 6.0
"""The limits worker's ``WARM_UP_DELAY_SECONDS``: long enough to watch the hold on a busy machine."""


@pytest.fixture(scope="module")
def worker(isolated_deployment: Deployment) -> Iterator[AgentWorker]:
    """The deployment's only worker, so every job of the test lands on it and can be counted."""
    agent = isolated_deployment.worker(
        # two warm processes, as on a user's 2-core machine: taking one of them holds its replacement
        "limits-worker",
        extra_env={"WARM_UP_DELAY_SECONDS": str(WARM_UP_DELAY), "WORKER_IDLE_PROCESSES": "2"},
    ).start()
    yield agent
    agent.stop()


def settled_worker_processes(worker: AgentWorker) -> int:
    """The worker's processes once its idle pool is warm: the same count for 3 s in a row. A
    worker that has just registered is still starting its warm job processes."""
    counts: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts.append(worker.python_processes())
        if len(counts) >= 7 and len(set(counts[-7:])) == 1:
            return counts[-1]
        time.sleep(0.5)
    raise TimeoutError(f"the worker's processes never settled: {counts[-10:]}")


def active_jobs(worker: AgentWorker) -> int:
    """Conversations the worker is running, as its own HTTP endpoint reports them."""
    info = httpx.get(f"http://127.0.0.1:{worker.env['WORKER_HTTP_PORT']}/worker", timeout=5).json()
    return int(info.get("active_jobs", 0))


async def open_rooms_of(livekit: LiveKitServer, user_id: int) -> list[str]:
    async with livekit_api.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as lk:
        rooms = (await lk.room.list_rooms(livekit_api.ListRoomsRequest())).rooms
    return [room.name for room in rooms if f'"owner_id": {user_id}' in room.metadata]


async def close_rooms_of(livekit: LiveKitServer, *user_ids: int) -> None:
    """End the test's conversations, so their agents do not wait a minute for users who never come."""
    async with livekit_api.LiveKitAPI(livekit.http_url, livekit.api_key, livekit.api_secret) as lk:
        for room in (await lk.room.list_rooms(livekit_api.ListRoomsRequest())).rooms:
            if any(f'"owner_id": {user_id}' in room.metadata for user_id in user_ids):
                await lk.room.delete_room(livekit_api.DeleteRoomRequest(room=room.name))


async def burst(base_url: str, user: SignedInUser, count: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=base_url, headers=user.headers, timeout=30) as client:
        return await asyncio.gather(*(client.post("/api/create-room", json={}) for _ in range(count)))


async def test_a_burst_of_20_rooms_from_one_user_opens_only_their_limit_and_the_next_user_is_served(
    isolated_deployment: Deployment, worker: AgentWorker
) -> None:
    backend = isolated_deployment.backend
    with httpx.Client(base_url=backend.base_url, timeout=30) as api:
        greedy, patient = sign_in(api, display_name="Greedy"), sign_in(api, display_name="Patient")
    idle = settled_worker_processes(worker)
    try:
        greedy_answers, patient_answer = await asyncio.gather(
            burst(backend.base_url, greedy, BURST), burst(backend.base_url, patient, 1)
        )
        most_jobs, most_processes = 0, idle
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:  # the agents' jobs start within a few seconds
            most_jobs = max(most_jobs, await asyncio.to_thread(active_jobs, worker))
            most_processes = max(most_processes, worker.python_processes())
            await asyncio.sleep(0.25)

        statuses = Counter(answer.status_code for answer in greedy_answers)
        assert statuses == {
            201: DEFAULTS.CONVERSATIONS_PER_USER,
            429: BURST - DEFAULTS.CONVERSATIONS_PER_USER,
        }
        for refused in (answer for answer in greedy_answers if answer.status_code == 429):
            assert int(refused.headers["retry-after"]) > 0
            assert "conversations open" in refused.json()["detail"]
        assert len(await open_rooms_of(isolated_deployment.livekit, greedy.user_id)) == 2
        assert [answer.status_code for answer in patient_answer] == [201]
        # Two conversations of one user and one of the other; each job process taken from the
        # idle pool is replaced, so the worker's processes grow by at most two per conversation.
        conversations = DEFAULTS.CONVERSATIONS_PER_USER + 1
        assert 1 <= most_jobs <= conversations
        assert most_processes - idle <= 2 * conversations, f"{most_processes} worker processes, {idle} before"
        assert most_processes > idle > 0, "the worker's processes were not counted"
    finally:
        await close_rooms_of(isolated_deployment.livekit, greedy.user_id, patient.user_id)


def test_the_warm_process_a_conversation_takes_is_replaced_after_its_start_not_during_it(
    isolated_deployment: Deployment, worker: AgentWorker
) -> None:
    with httpx.Client(base_url=isolated_deployment.backend.base_url, timeout=30) as api:
        user = sign_in(api, display_name="Starting")
        idle = settled_worker_processes(worker)
        try:
            assert api.post("/api/create-room", json={}, headers=user.headers).status_code == 201
            wait_until(lambda: active_jobs(worker) == 1, timeout=20, what="the agent's job")
            taken = time.monotonic()
            during_start = []
            while time.monotonic() < taken + WARM_UP_DELAY / 3:
                during_start.append(worker.python_processes())
                time.sleep(0.2)
            wait_until(
                lambda: worker.python_processes() > idle, timeout=WARM_UP_DELAY + 20, what="the replacement"
            )
        finally:
            asyncio.run(close_rooms_of(isolated_deployment.livekit, user.user_id))
    # the taken process now runs the conversation: as many processes as before, none warming
    assert set(during_start) == {idle}, f"{during_start}, {idle} before the conversation"


def test_a_closed_conversation_frees_its_place(isolated_deployment: Deployment, worker: AgentWorker) -> None:
    backend = isolated_deployment.backend
    with httpx.Client(base_url=backend.base_url, timeout=30) as api:
        user = sign_in(api, display_name="Returning")
        try:
            first = [api.post("/api/create-room", json={}, headers=user.headers) for _ in range(2)]
            assert [answer.status_code for answer in first] == [201, 201]
            assert api.post("/api/create-room", json={}, headers=user.headers).status_code == 429

            asyncio.run(close_rooms_of(isolated_deployment.livekit, user.user_id))

            assert api.post("/api/create-room", json={}, headers=user.headers).status_code == 201
        finally:
            asyncio.run(close_rooms_of(isolated_deployment.livekit, user.user_id))


def test_token_requests_beyond_the_rate_get_429_with_retry_after(isolated_deployment: Deployment) -> None:
    with httpx.Client(base_url=isolated_deployment.backend.base_url, timeout=30) as api:
        user, other = sign_in(api, display_name="Chatty"), sign_in(api, display_name="Quiet")
        try:
            room = api.post("/api/generate-token", json={}, headers=user.headers).json()["room"]
            answers = [
                api.post("/api/generate-token", json={"room": room}, headers=user.headers)
                for _ in range(DEFAULTS.TOKEN_REQUESTS_PER_MINUTE)
            ]
            others_token = api.post("/api/generate-token", json={}, headers=other.headers)
        finally:
            asyncio.run(close_rooms_of(isolated_deployment.livekit, user.user_id, other.user_id))

    statuses = [answer.status_code for answer in answers]
    assert statuses == [200] * (DEFAULTS.TOKEN_REQUESTS_PER_MINUTE - 1) + [429]
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["detail"].startswith("You asked for conversation passes too often")
    assert others_token.status_code == 200


def test_backends_sharing_redis_share_the_counts(tmp_path: Path, livekit_server: LiveKitServer) -> None:
    # Production runs several backend workers when REDIS_URL is set; two backend processes on one
    # Redis and one database stand in for them.
    redis_server = RedisServer(tmp_path, ["redis-server", "--save", "", "--appendonly", "no"]).start()
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}",
        "AGENT_NAME": UNSERVED_AGENT_NAME,
        "TOKEN_REQUESTS_PER_MINUTE": "4",
        "ROOM_CREATIONS_PER_MINUTE": "3",
        "CONVERSATIONS_PER_USER": "10",
    }
    first = second = None
    try:
        first = Backend(tmp_path, livekit_server, extra_env=env).start()
        second = Backend(tmp_path, livekit_server, extra_env=env, database_url=first.database_url).start()
        with (
            httpx.Client(base_url=first.base_url, timeout=30) as one,
            httpx.Client(base_url=second.base_url, timeout=30) as other,
        ):
            user = sign_in(one)
            try:
                new_rooms = [
                    client.post("/api/generate-token", json={}, headers=user.headers)
                    for client in (one, other, one)
                ]
                fourth_room = other.post("/api/create-room", json={}, headers=user.headers)
                room = new_rooms[0].json()["room"]
                fourth_token = other.post("/api/generate-token", json={"room": room}, headers=user.headers)
                fifth_token = one.post("/api/generate-token", json={"room": room}, headers=user.headers)
            finally:
                asyncio.run(close_rooms_of(livekit_server, user.user_id))
        # Each backend alone saw at most two rooms and three tokens: only shared counts refuse.
        assert [answer.status_code for answer in new_rooms] == [200, 200, 200]
        assert fourth_room.status_code == 429
        assert "new conversations too often" in fourth_room.json()["detail"]
        assert fourth_token.status_code == 200
        assert fifth_token.status_code == 429
        assert "conversation passes too often" in fifth_token.json()["detail"]
    finally:
        for backend in (second, first):
            if backend is not None:
                backend.stop()
        redis_server.stop()
