"""A signed-in user creates a LiveKit room and gets a token that joins that room and no other.

Everything here runs against a real livekit-server and the real backend process.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import jwt
import pytest
from livekit import api as livekit_api
from livekit import rtc

from tests.factories import SignedInUser, sign_in
from tests.support.backend import UNSERVED_AGENT_NAME, Backend
from tests.support.livekit import LiveKitServer
from tests.support.processes import wait_until

TOKEN_TTL_SECONDS = 900
AGENT_NAME = UNSERVED_AGENT_NAME
ROOM_EMPTY_TIMEOUT_SECONDS = 300
ROOM_MAX_PARTICIPANTS = 4
DISPLAY_NAME = "Ada Lovelace"


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, livekit_server: LiveKitServer, database_url: str
) -> Iterator[Backend]:
    """A backend of this module's own, dispatching an agent name no worker serves (these tests
    check the dispatch, not the agent, and make dozens of rooms)."""
    server = Backend(
        tmp_path_factory.mktemp("rooms-backend"),
        livekit_server,
        {"AGENT_NAME": AGENT_NAME},
        database_url=database_url,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def user(api: httpx.Client) -> SignedInUser:
    return sign_in(api, display_name=DISPLAY_NAME)


@pytest.fixture
def other_user(api: httpx.Client) -> SignedInUser:
    return sign_in(api, display_name="Someone Else")


@pytest.fixture
async def livekit(livekit_server: LiveKitServer) -> AsyncIterator[livekit_api.LiveKitAPI]:
    """The shared livekit-server's own API, to see what the backend did there."""
    client = livekit_api.LiveKitAPI(
        livekit_server.http_url, livekit_server.api_key, livekit_server.api_secret
    )
    yield client
    await client.aclose()


def unique_room_name(prefix: str = "room") -> str:
    return f"{prefix}-{time.time_ns()}"


def create_room(client: httpx.Client, user: SignedInUser, name: str) -> httpx.Response:
    return client.post("/api/create-room", json={"name": name}, headers=user.headers)


def generate_token(client: httpx.Client, user: SignedInUser, room: str) -> httpx.Response:
    return client.post("/api/generate-token", json={"room": room}, headers=user.headers)


def agent_status(client: httpx.Client, user: SignedInUser, room: str) -> httpx.Response:
    return client.get(f"/api/rooms/{room}/agent", headers=user.headers)


async def list_room(livekit: livekit_api.LiveKitAPI, name: str) -> list[livekit_api.Room]:
    return list((await livekit.room.list_rooms(livekit_api.ListRoomsRequest(names=[name]))).rooms)


async def dispatched_agents(livekit: livekit_api.LiveKitAPI, room: str) -> list[tuple[str, dict]]:
    return [(d.agent_name, json.loads(d.metadata)) for d in await livekit.agent_dispatch.list_dispatch(room)]


def agent_metadata(user: SignedInUser) -> dict:
    return {"display_name": user.display_name, "user_id": user.user_id}


async def test_create_room_makes_a_room_livekit_lists_and_repeating_it_changes_nothing(
    api: httpx.Client, user: SignedInUser, livekit: livekit_api.LiveKitAPI
) -> None:
    name = unique_room_name()

    first = create_room(api, user, name)

    assert first.status_code == 201, first.text
    assert first.json()["created"] is True
    assert first.json()["room"]["name"] == name
    assert first.json()["room"]["owner_id"] == user.user_id
    [room] = await list_room(livekit, name)
    assert room.empty_timeout == ROOM_EMPTY_TIMEOUT_SECONDS
    assert room.max_participants == ROOM_MAX_PARTICIPANTS
    assert json.loads(room.metadata) == {"owner_id": user.user_id}
    assert await dispatched_agents(livekit, name) == [(AGENT_NAME, agent_metadata(user))]

    second = create_room(api, user, name)

    assert second.status_code == 200, second.text
    assert second.json() == {**first.json(), "created": False}
    assert [(r.name, r.sid) for r in await list_room(livekit, name)] == [(name, room.sid)]


def test_create_room_without_a_name_makes_a_fresh_unique_one(api: httpx.Client, user: SignedInUser) -> None:
    first = api.post("/api/create-room", headers=user.headers)
    second = api.post("/api/create-room", json={}, headers=user.headers)

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    names = {first.json()["room"]["name"], second.json()["room"]["name"]}
    assert len(names) == 2
    assert all(name.startswith(f"talk-{user.user_id}-") for name in names)


def test_the_token_carries_exactly_the_promised_claims(
    api: httpx.Client, user: SignedInUser, livekit_server: LiveKitServer
) -> None:
    room = unique_room_name()

    response = generate_token(api, user, room)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"server_url", "room", "identity", "token", "expires_at"}
    assert (body["server_url"], body["room"], body["identity"]) == (
        livekit_server.url,
        room,
        str(user.user_id),
    )
    claims = jwt.decode(
        body["token"], livekit_server.api_secret, algorithms=["HS256"], issuer=livekit_server.api_key
    )
    assert datetime.fromisoformat(body["expires_at"]).timestamp() == claims["exp"]
    assert claims.pop("exp") - claims.pop("nbf") == TOKEN_TTL_SECONDS
    assert claims == {
        "iss": livekit_server.api_key,
        "sub": str(user.user_id),
        "name": DISPLAY_NAME,
        "video": {
            "roomJoin": True,
            "room": room,
            "canPublish": True,
            "canSubscribe": True,
            "canPublishData": True,
            "canUpdateOwnMetadata": True,
        },
        "roomConfig": {
            "emptyTimeout": ROOM_EMPTY_TIMEOUT_SECONDS,
            "maxParticipants": ROOM_MAX_PARTICIPANTS,
            "metadata": json.dumps({"owner_id": user.user_id}),
            "agents": [{"agentName": AGENT_NAME, "metadata": json.dumps(agent_metadata(user))}],
        },
    }
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(body["token"], "not-the-server-secret" * 3, algorithms=["HS256"])


def test_asking_twice_for_a_token_reuses_the_room(api: httpx.Client, user: SignedInUser) -> None:
    room = unique_room_name()

    first = generate_token(api, user, room)
    second = generate_token(api, user, room)

    assert (first.status_code, second.status_code) == (200, 200)
    assert create_room(api, user, room).json()["created"] is False


def _forge_room(token: str, room: str) -> str:
    """The same token with only the room in its payload changed (its signature kept)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["video"]["room"] = room
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_real_client_joins_its_room_with_the_token_and_no_other_room(
    api: httpx.Client, user: SignedInUser, livekit_server: LiveKitServer, livekit: livekit_api.LiveKitAPI
) -> None:
    room_name = unique_room_name()
    other_room = unique_room_name("elsewhere")
    assert create_room(api, user, other_room).status_code == 201
    token = generate_token(api, user, room_name).json()["token"]

    room = rtc.Room()
    await room.connect(livekit_server.url, token)
    try:
        assert room.name == room_name
        assert room.local_participant.identity == str(user.user_id)
        assert room.local_participant.name == DISPLAY_NAME
        participants = await livekit.room.list_participants(
            livekit_api.ListParticipantsRequest(room=room_name)
        )
        assert [p.identity for p in participants.participants] == [str(user.user_id)]
    finally:
        await room.disconnect()

    elsewhere = rtc.Room()
    with pytest.raises(rtc.ConnectError):
        await elsewhere.connect(livekit_server.url, _forge_room(token, other_room))
    participants = await livekit.room.list_participants(livekit_api.ListParticipantsRequest(room=other_room))
    assert list(participants.participants) == []


async def test_a_room_livekit_closed_comes_back_with_the_same_configuration_on_join(
    api: httpx.Client, user: SignedInUser, livekit_server: LiveKitServer, livekit: livekit_api.LiveKitAPI
) -> None:
    name = unique_room_name()
    assert create_room(api, user, name).status_code == 201
    await livekit.room.delete_room(livekit_api.DeleteRoomRequest(room=name))
    assert await list_room(livekit, name) == []

    token = generate_token(api, user, name).json()["token"]
    room = rtc.Room()
    await room.connect(livekit_server.url, token)
    try:
        [recreated] = await list_room(livekit, name)
        assert recreated.empty_timeout == ROOM_EMPTY_TIMEOUT_SECONDS
        assert recreated.max_participants == ROOM_MAX_PARTICIPANTS
        assert json.loads(recreated.metadata) == {"owner_id": user.user_id}
        assert await dispatched_agents(livekit, name) == [(AGENT_NAME, agent_metadata(user))]
    finally:
        await room.disconnect()


async def test_in_a_room_no_worker_serves_the_agent_status_says_it_waits_for_a_worker(
    api: httpx.Client, user: SignedInUser, livekit_server: LiveKitServer, livekit: livekit_api.LiveKitAPI
) -> None:
    name = unique_room_name()
    token = generate_token(api, user, name).json()["token"]
    room = rtc.Room()
    await room.connect(livekit_server.url, token)
    try:
        response = agent_status(api, user, name)
    finally:
        await room.disconnect()

    assert response.status_code == 200, response.text
    assert response.json() == {"room": name, "agent": "waiting_for_worker"}

    await livekit.room.delete_room(livekit_api.DeleteRoomRequest(room=name))
    assert agent_status(api, user, name).json() == {"room": name, "agent": "no_dispatch"}


def test_the_agent_status_of_another_users_room_is_refused_and_of_no_room_is_404(
    api: httpx.Client, user: SignedInUser, other_user: SignedInUser
) -> None:
    name = unique_room_name()
    assert create_room(api, user, name).status_code == 201

    refused = agent_status(api, other_user, name)
    missing = agent_status(api, user, unique_room_name("nobodys"))

    assert refused.status_code == 403
    assert refused.json() == {"detail": "This room belongs to another user."}
    assert missing.status_code == 404
    assert missing.json() == {"detail": "There is no room of that name."}


def recover_agent(client: httpx.Client, user: SignedInUser | None, room: str) -> httpx.Response:
    return client.post(f"/api/rooms/{room}/agent/recover", headers=user.headers if user else {})


def test_only_the_owner_can_ask_for_their_agent_to_be_recovered(
    api: httpx.Client, user: SignedInUser, other_user: SignedInUser
) -> None:
    name = unique_room_name()
    assert create_room(api, user, name).status_code == 201

    refused = recover_agent(api, other_user, name)
    missing = recover_agent(api, user, unique_room_name("nobodys"))

    assert (refused.status_code, refused.json()) == (403, {"detail": "This room belongs to another user."})
    assert (missing.status_code, missing.json()) == (404, {"detail": "There is no room of that name."})
    assert recover_agent(api, None, name).status_code == 401
    # a room LiveKit does not host (nobody joined it): nothing to recover
    assert recover_agent(api, user, name).json() == {"room": name, "outcome": "not_needed"}


async def test_a_room_whose_agent_never_started_a_conversation_gets_no_agent_from_recovery(
    api: httpx.Client, user: SignedInUser, livekit_server: LiveKitServer, livekit: livekit_api.LiveKitAPI
) -> None:
    """No worker serves this LiveKit: the busy check says so; recovery only replaces lost agents."""
    name = unique_room_name()
    token = generate_token(api, user, name).json()["token"]
    room = rtc.Room()
    await room.connect(livekit_server.url, token)
    try:
        response = await asyncio.to_thread(recover_agent, api, user, name)
        dispatches = await livekit.agent_dispatch.list_dispatch(name)
    finally:
        await room.disconnect()

    assert response.status_code == 200, response.text
    assert response.json() == {"room": name, "outcome": "not_needed"}
    assert len(dispatches) == 1, "recovery sent an agent to a room that never had one"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-session"}],
    ids=["no-credentials", "unknown-session"],
)
def test_without_a_session_the_agent_status_answers_401(
    api: httpx.Client, user: SignedInUser, headers: dict
) -> None:
    name = unique_room_name()
    assert create_room(api, user, name).status_code == 201

    response = api.get(f"/api/rooms/{name}/agent", headers=headers)

    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("name", ["a" * 65, "has space", "dot.room", "ümlaut"])
def test_the_agent_status_of_a_bad_room_name_is_422(api: httpx.Client, user: SignedInUser, name: str) -> None:
    response = agent_status(api, user, name)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "path.room"


@pytest.mark.parametrize("path", ["/api/create-room", "/api/generate-token"])
def test_another_users_room_is_refused(
    api: httpx.Client, user: SignedInUser, other_user: SignedInUser, path: str
) -> None:
    name = unique_room_name()
    assert create_room(api, user, name).status_code == 201

    key = "name" if path.endswith("create-room") else "room"
    response = api.post(path, json={key: name}, headers=other_user.headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "This room belongs to another user."}


@pytest.mark.parametrize("path", ["/api/create-room", "/api/generate-token"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-session"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no-credentials", "unknown-session", "wrong-scheme"],
)
def test_without_a_session_the_routes_answer_401(api: httpx.Client, path: str, headers: dict) -> None:
    response = api.post(path, json={}, headers=headers)

    assert response.status_code == 401
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize(
    "name",
    ["", "a" * 65, "has space", "slash/room", "dot.room", "ümlaut", "new\nline", "%2e%2e", 42],
    ids=["empty", "65-chars", "space", "slash", "dot", "non-ascii", "newline", "percent", "number"],
)
@pytest.mark.parametrize("path", ["/api/create-room", "/api/generate-token"])
def test_bad_room_names_are_refused_with_422(
    api: httpx.Client, user: SignedInUser, path: str, name: object
) -> None:
    key = "name" if path.endswith("create-room") else "room"

    response = api.post(path, json={key: name}, headers=user.headers)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == key


@pytest.mark.parametrize(
    "body",
    [b"{room: nope", b"[]", b'{"room": "fine", "owner_id": 1}', b'{"name": "fine", "agent": "x"}'],
    ids=["not-json", "array", "unknown-field", "another-unknown-field"],
)
@pytest.mark.parametrize("path", ["/api/create-room", "/api/generate-token"])
def test_malformed_bodies_are_refused_with_422(
    api: httpx.Client, user: SignedInUser, path: str, body: bytes
) -> None:
    response = api.post(path, content=body, headers={**user.headers, "Content-Type": "application/json"})

    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)


def test_a_name_of_64_allowed_characters_is_accepted(api: httpx.Client, user: SignedInUser) -> None:
    name = ("Ab-9_" * 13)[:64]
    assert create_room(api, user, name).status_code == 201


@pytest.fixture
def backend_on_own_livekit(tmp_path: Path, own_livekit_server: LiveKitServer) -> Iterator[Backend]:
    backend = Backend(tmp_path, own_livekit_server).start()
    yield backend
    backend.stop()


async def test_while_livekit_is_stopped_the_routes_answer_503_and_recover_when_it_is_back(
    backend_on_own_livekit: Backend, own_livekit_server: LiveKitServer
) -> None:
    with httpx.Client(base_url=backend_on_own_livekit.base_url, timeout=30) as client:
        user = sign_in(client)
        owned = unique_room_name("owned")
        assert create_room(client, user, owned).status_code == 201
        own_livekit_server.stop()

        # A room the user already owns needs no LiveKit call: the token alone re-creates it on join.
        assert generate_token(client, user, owned).status_code == 200
        unreachable = agent_status(client, user, owned)
        assert unreachable.status_code == 503
        assert unreachable.json() == {"detail": "LiveKit is unreachable; try again in a moment."}

        new_room = unique_room_name("new")
        for response in (create_room(client, user, new_room), generate_token(client, user, new_room)):
            assert response.status_code == 503
            assert response.json() == {"detail": "LiveKit is unreachable; try again in a moment."}
            assert response.elapsed.total_seconds() < 5

        own_livekit_server.start()
        answers: list[httpx.Response] = []
        wait_until(
            lambda: answers.append(create_room(client, user, new_room)) or answers[-1].status_code != 503,
            timeout=20,
            what="create-room recovering after livekit-server restarted",
        )
        # The failed attempts left no claim behind: this is the call that creates the room.
        assert answers[-1].status_code == 201, answers[-1].text
        livekit = livekit_api.LiveKitAPI(
            own_livekit_server.http_url, own_livekit_server.api_key, own_livekit_server.api_secret
        )
        try:
            assert [room.name for room in await list_room(livekit, new_room)] == [new_room]
        finally:
            await livekit.aclose()
        assert generate_token(client, user, new_room).status_code == 200


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers: a LiveKit that hangs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(128)
        yield server.getsockname()[1]


def test_a_livekit_that_never_answers_gives_503_within_the_timeout(
    tmp_path: Path, livekit_server: LiveKitServer, silent_listener: int
) -> None:
    backend = Backend(
        tmp_path,
        livekit_server,
        {"LIVEKIT_URL": f"http://127.0.0.1:{silent_listener}", "LIVEKIT_TIMEOUT_SECONDS": "1"},
    ).start()
    try:
        with httpx.Client(base_url=backend.base_url, timeout=30) as client:
            user = sign_in(client)
            started = time.monotonic()
            response = generate_token(client, user, unique_room_name())
            elapsed = time.monotonic() - started

        assert response.status_code == 503
        assert response.json()["detail"] == "LiveKit is unreachable; try again in a moment."
        assert 0.9 < elapsed < 3
    finally:
        backend.stop()
