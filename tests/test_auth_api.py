"""Accounts over the REST API: register, log in, read yourself, log out; sessions that expire or are
revoked; failed-login throttling; re-hashing after a parameter change; and every bad input.

All of it runs against the real backend process and its real SQLite database.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, inspect
from sqlmodel import Session, select

from tests.factories import DEFAULT_PASSWORD, random_email, register_user, sign_in
from tests.support.backend import Backend
from tests.support.livekit import LiveKitServer
from tests.support.production import RedisServer
from voice_app.auth.models import LoginSession, User
from voice_app.db import make_engine

WRONG_PASSWORD = "not the right passphrase"
ONE_MEGABYTE = 1024 * 1024


@pytest.fixture(scope="module")
def engine(backend: Backend) -> Iterator[Engine]:
    """The shared backend's database, opened directly to see (and age) what the API stored."""
    engine = make_engine(backend.database_url)
    yield engine
    engine.dispose()


def user_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(User)).one()


def stored_user(engine: Engine, email: str) -> User | None:
    with Session(engine) as session:
        return session.exec(select(User).where(User.email_normalized == email.lower())).first()


def stored_login(engine: Engine, token: str) -> LoginSession:
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    with Session(engine) as session:
        return session.exec(select(LoginSession).where(LoginSession.token_hash == token_hash)).one()


def age_login(engine: Engine, token: str, **changes: datetime) -> None:
    """Move a stored session's timestamps, as if time had passed."""
    login = stored_login(engine, token)
    with Session(engine) as session:
        for name, value in changes.items():
            setattr(login, name, value)
        session.add(login)
        session.commit()


def assert_json_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail.strip()
    return detail


# --- The happy path -------------------------------------------------------------------------


def test_a_new_user_registers_logs_in_reads_themselves_and_logs_out(api: httpx.Client) -> None:
    email = random_email()

    registered = api.post(
        "/api/auth/register",
        json={"email": email, "password": DEFAULT_PASSWORD, "display_name": "Grace Hopper"},
    )
    assert registered.status_code == 201
    user = registered.json()
    assert set(user) == {"id", "email", "display_name", "created_at"}
    assert (user["email"], user["display_name"]) == (email, "Grace Hopper")

    login = api.post("/api/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
    body = login.json()
    assert body["user"] == user
    assert len(body["token"]) >= 43  # 32 random bytes, URL-safe base64
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=11, minutes=59) < expires_at - datetime.now(UTC) <= timedelta(hours=12)
    assert body["idle_timeout_seconds"] == 30 * 60
    headers = {"Authorization": f"Bearer {body['token']}"}

    me = api.get("/api/me", headers=headers)
    assert me.status_code == 200
    assert me.json() == user

    assert api.post("/api/auth/logout", headers=headers).status_code == 204
    after = api.get("/api/me", headers=headers)
    assert_json_error(after, 401)
    assert after.headers["www-authenticate"].startswith("Bearer")


def test_the_database_keeps_an_argon2id_hash_and_only_the_tokens_sha256(
    api: httpx.Client, engine: Engine
) -> None:
    user = sign_in(api)

    row = stored_user(engine, user.email)
    assert row is not None
    assert row.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert DEFAULT_PASSWORD not in row.password_hash
    login = stored_login(engine, user.token)
    assert login.token_hash == hashlib.sha256(user.token.encode()).hexdigest()
    assert login.revoked_at is None


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer(api: httpx.Client) -> None:
    user = sign_in(api)

    wrong_password = api.post("/api/auth/login", json={"email": user.email, "password": WRONG_PASSWORD})
    unknown_email = api.post("/api/auth/login", json={"email": random_email(), "password": WRONG_PASSWORD})

    assert assert_json_error(wrong_password, 401) == assert_json_error(unknown_email, 401)
    assert "token" not in wrong_password.text


def test_email_letter_case_does_not_matter_for_login_or_for_uniqueness(
    api: httpx.Client, engine: Engine
) -> None:
    email = f"Mixed.Case-{random_email()}"
    register_user(api, email=email)
    before = user_count(engine)

    duplicate = api.post(
        "/api/auth/register",
        json={"email": f"  {email.upper()} ", "password": DEFAULT_PASSWORD, "display_name": "Twin"},
    )
    login = api.post("/api/auth/login", json={"email": email.lower(), "password": DEFAULT_PASSWORD})

    assert "already exists" in assert_json_error(duplicate, 409)
    assert user_count(engine) == before
    assert login.status_code == 200


def test_logging_out_one_session_leaves_the_users_other_sessions_signed_in(api: httpx.Client) -> None:
    user = sign_in(api)
    second = api.post("/api/auth/login", json={"email": user.email, "password": user.password}).json()
    second_headers = {"Authorization": f"Bearer {second['token']}"}

    assert api.post("/api/auth/logout", headers=user.headers).status_code == 204

    assert api.get("/api/me", headers=user.headers).status_code == 401
    assert api.get("/api/me", headers=second_headers).status_code == 200
    assert api.post("/api/auth/logout", headers=user.headers).status_code == 401


def test_text_that_looks_like_sql_or_uses_emoji_is_stored_and_shown_verbatim(
    api: httpx.Client, engine: Engine
) -> None:
    display_name = "Robert'); DROP TABLE user;-- 🎙️ Zoë"
    password = "пароль 🔑 '; DELETE FROM login_session; --"

    user = sign_in(api, display_name=display_name, password=password)

    assert api.get("/api/me", headers=user.headers).json()["display_name"] == display_name
    assert {"user", "login_session"} <= set(inspect(engine).get_table_names())


def test_a_passphrase_typed_with_full_width_characters_matches_its_plain_form(api: httpx.Client) -> None:
    email = random_email()
    register_user(api, email=email, password="ｆｕｌｌ ｗｉｄｔｈ ｐａｓｓ")  # noqa: RUF001

    login = api.post("/api/auth/login", json={"email": email, "password": "full width pass"})

    assert login.status_code == 200


def test_concurrent_sign_ups_with_one_email_create_exactly_one_account(
    api: httpx.Client, engine: Engine
) -> None:
    email = random_email()
    body = {"email": email, "password": DEFAULT_PASSWORD, "display_name": "Racer"}

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(lambda _: api.post("/api/auth/register", json=body).status_code, range(6)))

    assert statuses == [201, 409, 409, 409, 409, 409]
    with Session(engine) as session:
        assert len(session.exec(select(User).where(User.email_normalized == email)).all()) == 1


# --- Refused tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "why"),
    [
        (None, "no header"),
        ("", "empty header"),
        ("Bearer", "scheme without a token"),
        ("Basic dXNlcjpwYXNz", "another scheme"),
        ("Bearer not-a-real-token", "a token nobody was given"),
        ("Bearer " + "x" * 10_000, "a huge token"),
    ],
)
def test_me_refuses_a_request_without_a_live_token(
    api: httpx.Client, authorization: str | None, why: str
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = api.get("/api/me", headers=headers)

    assert_json_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer"), why


def test_a_session_past_its_absolute_expiry_is_refused_however_active(
    api: httpx.Client, engine: Engine
) -> None:
    user = sign_in(api)
    age_login(engine, user.token, expires_at=datetime.now(UTC) - timedelta(seconds=1))

    assert_json_error(api.get("/api/me", headers=user.headers), 401)


def test_a_session_unused_for_longer_than_the_idle_timeout_is_refused(
    api: httpx.Client, engine: Engine
) -> None:
    user = sign_in(api)
    age_login(engine, user.token, last_seen_at=datetime.now(UTC) - timedelta(minutes=31))

    assert_json_error(api.get("/api/me", headers=user.headers), 401)


def test_using_a_session_keeps_it_alive_past_the_idle_timeout_until_its_absolute_expiry(
    tmp_path: Path, livekit_server: LiveKitServer
) -> None:
    # Real time on a backend with small limits: 4 s idle, 10 s absolute (wide enough that a
    # loaded machine's slow requests do not let the active session fall idle by accident).
    backend = Backend(
        tmp_path,
        livekit_server,
        extra_env={"SESSION_IDLE_MINUTES": str(4 / 60), "SESSION_ABSOLUTE_HOURS": str(10 / 3600)},
    ).start()
    try:
        with httpx.Client(base_url=backend.base_url, timeout=30) as client:
            active = sign_in(client)
            idle = sign_in(client)
            started = time.monotonic()
            while time.monotonic() - started < 6.5:
                assert client.get("/api/me", headers=active.headers).status_code == 200
                time.sleep(0.5)
            assert_json_error(client.get("/api/me", headers=idle.headers), 401)
            time.sleep(max(0.0, 10.5 - (time.monotonic() - started)))
            assert_json_error(client.get("/api/me", headers=active.headers), 401)
    finally:
        backend.stop()


# --- Throttling -----------------------------------------------------------------------------

THROTTLE_ENV = {
    "TRUSTED_PROXY_HOPS": "1",  # lets each test be its own client address via X-Forwarded-For
    "LOGIN_THROTTLE_ACCOUNT_FREE_FAILURES": "2",
    "LOGIN_THROTTLE_ADDRESS_FREE_FAILURES": "6",
    "LOGIN_THROTTLE_BASE_SECONDS": "1",
    "LOGIN_THROTTLE_ACCOUNT_MAX_SECONDS": "2",
    "LOGIN_THROTTLE_ADDRESS_MAX_SECONDS": "2",
}


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory, livekit_server: LiveKitServer) -> Iterator[Backend]:
    """A backend whose throttle engages after a couple of failures and waits at most 2 s.

    Its hot reload watches an empty folder: the dev backend otherwise restarts whenever a file in
    the work tree changes, which would wipe the in-memory failure counts mid-test.
    """
    workdir = tmp_path_factory.mktemp("throttled")
    (workdir / "no-reload").mkdir()
    env = {**THROTTLE_ENV, "REFLEX_HOT_RELOAD_OVERRIDE_PATHS": str(workdir / "no-reload")}
    backend = Backend(workdir, livekit_server, extra_env=env).start()
    yield backend
    backend.stop()


def client_from(backend: Backend, address: str) -> httpx.Client:
    return httpx.Client(base_url=backend.base_url, timeout=30, headers={"X-Forwarded-For": address})


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def retry_after(response: httpx.Response) -> int:
    assert_json_error(response, 429)
    return int(response.headers["retry-after"])


def test_failed_logins_for_one_account_make_the_next_attempt_wait_then_let_the_owner_in(
    throttled: Backend,
) -> None:
    """Through the API: 429 with Retry-After. How the wait grows and its cap: tests/unit/test_login_throttle.py."""
    with client_from(throttled, "10.0.0.1") as client:
        user = register_user(client)
        email = user["email"]
        assert login(client, email, WRONG_PASSWORD).status_code == 401
        assert login(client, email, WRONG_PASSWORD).status_code == 401

        assert retry_after(login(client, email, WRONG_PASSWORD)) == 1
        assert retry_after(login(client, email, DEFAULT_PASSWORD)) == 1  # even the right one waits

        time.sleep(1.1)
        assert login(client, email, DEFAULT_PASSWORD).status_code == 200
        assert login(client, email, WRONG_PASSWORD).status_code == 401  # a fresh start


def test_one_address_guessing_at_many_accounts_is_made_to_wait_on_every_account(
    throttled: Backend,
) -> None:
    with client_from(throttled, "10.0.0.2") as guesser, client_from(throttled, "10.0.0.3") as owner:
        victim = register_user(owner)
        for _ in range(6):
            assert login(guesser, random_email(), WRONG_PASSWORD).status_code == 401

        assert retry_after(login(guesser, victim["email"], DEFAULT_PASSWORD)) == 1
        assert login(owner, victim["email"], DEFAULT_PASSWORD).status_code == 200

        time.sleep(1.1)
        assert login(guesser, victim["email"], DEFAULT_PASSWORD).status_code == 200


def test_a_burst_of_concurrent_guesses_gets_no_more_tries_than_the_limit(throttled: Backend) -> None:
    with client_from(throttled, "10.0.0.4") as client:
        email = register_user(client)["email"]
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: login(client, email, WRONG_PASSWORD).status_code, range(10)))

    assert sorted(statuses) == [401, 401] + [429] * 8


def test_backend_workers_sharing_redis_share_the_failure_counts(
    tmp_path: Path, livekit_server: LiveKitServer
) -> None:
    # Production runs several backend workers when REDIS_URL is set; two backend processes on one
    # Redis and one database stand in for them.
    redis_server = RedisServer(tmp_path, ["redis-server", "--save", "", "--appendonly", "no"]).start()
    (tmp_path / "no-reload").mkdir()
    env = {
        **THROTTLE_ENV,
        "REDIS_URL": f"redis://127.0.0.1:{redis_server.port}",
        "LOGIN_THROTTLE_BASE_SECONDS": "30",
        "LOGIN_THROTTLE_ACCOUNT_MAX_SECONDS": "60",
        "REFLEX_HOT_RELOAD_OVERRIDE_PATHS": str(tmp_path / "no-reload"),
    }
    first = second = None
    try:
        first = Backend(tmp_path, livekit_server, extra_env=env).start()
        second = Backend(tmp_path, livekit_server, extra_env=env, database_url=first.database_url).start()
        with client_from(first, "10.0.1.1") as one, client_from(second, "10.0.1.2") as other:
            email = register_user(one)["email"]
            assert login(one, email, WRONG_PASSWORD).status_code == 401
            assert login(other, email, WRONG_PASSWORD).status_code == 401  # each saw one failure

            assert 29 <= retry_after(login(one, email, DEFAULT_PASSWORD)) <= 30
            assert retry_after(login(other, email, DEFAULT_PASSWORD)) >= 29
    finally:
        for backend in (second, first):
            if backend is not None:
                backend.stop()
        redis_server.stop()


# --- Re-hash after a parameter change ------------------------------------------------------


def test_a_login_after_the_argon2_parameters_change_rehashes_the_stored_password(
    tmp_path: Path, livekit_server: LiveKitServer
) -> None:
    first = Backend(tmp_path, livekit_server).start()
    try:
        with httpx.Client(base_url=first.base_url, timeout=30) as client:
            email = register_user(client)["email"]
    finally:
        first.stop()
    engine = make_engine(first.database_url)
    old_hash = stored_user(engine, email).password_hash
    assert old_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")

    stronger = Backend(
        tmp_path,
        livekit_server,
        extra_env={"ARGON2_MEMORY_KIB": "24576", "ARGON2_TIME_COST": "3"},
        database_url=first.database_url,
    ).start()
    try:
        with httpx.Client(base_url=stronger.base_url, timeout=30) as client:
            assert login(client, email, WRONG_PASSWORD).status_code == 401
            assert stored_user(engine, email).password_hash == old_hash

            assert login(client, email, DEFAULT_PASSWORD).status_code == 200
            new_hash = stored_user(engine, email).password_hash
            assert new_hash.startswith("$argon2id$v=19$m=24576,t=3,p=1$")

            assert login(client, email, DEFAULT_PASSWORD).status_code == 200
            assert stored_user(engine, email).password_hash == new_hash
    finally:
        stronger.stop()
        engine.dispose()


# --- Bad input ----------------------------------------------------------------------------------


def registration(**changes: object) -> dict:
    body = {"email": random_email(), "password": DEFAULT_PASSWORD, "display_name": "Valid Name"}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


BAD_REGISTRATIONS = [
    pytest.param(b"", 422, id="empty body"),
    pytest.param(b"{", 422, id="malformed JSON"),
    pytest.param(b'{"email": "a@example.com",}', 422, id="trailing comma"),
    pytest.param(b"null", 422, id="JSON null"),
    pytest.param(b"[]", 422, id="JSON array"),
    pytest.param(b'"a@example.com"', 422, id="JSON string"),
    pytest.param(b"\xff\xfe\x00", 400, id="not UTF-8"),
    pytest.param(json.dumps({"email": "a" * ONE_MEGABYTE + "@example.com"}).encode(), 413, id="1 MB email"),
    pytest.param(registration(password="p" * ONE_MEGABYTE), 413, id="1 MB password"),
    pytest.param(registration(display_name="n" * ONE_MEGABYTE), 413, id="1 MB display name"),
    pytest.param(registration(email=...), 422, id="no email"),
    pytest.param(registration(password=...), 422, id="no password"),
    pytest.param(registration(display_name=...), 422, id="no display name"),
    pytest.param(registration(email=12345), 422, id="email is a number"),
    pytest.param(registration(password=True), 422, id="password is a boolean"),
    pytest.param(registration(password=None), 422, id="password is null"),
    pytest.param(registration(display_name=["Ann"]), 422, id="display name is a list"),
    pytest.param(registration(email={"$ne": ""}), 422, id="email is an object"),
    pytest.param(registration(is_admin=True), 422, id="unknown field"),
    pytest.param(registration(email=""), 422, id="empty email"),
    pytest.param(registration(email="   "), 422, id="blank email"),
    pytest.param(registration(email="no-at-sign.example.com"), 422, id="email without @"),
    pytest.param(registration(email="a@@example.com"), 422, id="email with two @"),
    pytest.param(registration(email="a@localhost"), 422, id="email without a dot in the domain"),
    pytest.param(registration(email="a b@example.com"), 422, id="email with a space"),
    pytest.param(registration(email="a\x00b@example.com"), 422, id="NUL in email"),
    pytest.param(registration(email="a\nb@example.com"), 422, id="newline in email"),
    pytest.param(registration(email="😀@example.com"), 422, id="emoji email"),
    pytest.param(registration(email="' OR '1'='1"), 422, id="SQL in email"),
    pytest.param(registration(email="x@example.com'; DROP TABLE user;--"), 422, id="SQL after email"),
    pytest.param(registration(display_name=""), 422, id="empty display name"),
    pytest.param(registration(display_name="Ann\x00Lee"), 422, id="NUL in display name"),
    pytest.param(registration(display_name="Ann\x1b[31mLee"), 422, id="escape in display name"),
    pytest.param(registration(display_name="Ann\u2028Lee"), 422, id="line separator in display name"),
    pytest.param(registration(display_name="n" * 81), 422, id="81-character display name"),
    pytest.param(registration(password=""), 422, id="empty password"),
    pytest.param(registration(password="short"), 422, id="7-character password"),
    pytest.param(registration(password="pass\x00word!"), 422, id="NUL in password"),
    pytest.param(registration(password="password123"), 422, id="a most common password"),
    pytest.param(registration(password="p" * 257), 422, id="257-character password"),
]


@pytest.mark.parametrize(("body", "status"), BAD_REGISTRATIONS)
def test_bad_registrations_get_a_4xx_sentence_and_leave_no_user(
    api: httpx.Client, engine: Engine, body: dict | bytes, status: int
) -> None:
    before = user_count(engine)

    if isinstance(body, bytes):
        response = api.post("/api/auth/register", content=body, headers={"Content-Type": "application/json"})
    else:
        response = api.post("/api/auth/register", json=body)

    assert_json_error(response, status)
    assert user_count(engine) == before


def test_a_field_error_names_the_field_in_words(api: httpx.Client) -> None:
    response = api.post("/api/auth/register", json=registration(password="short"))

    body = response.json()
    assert body["errors"] == [
        {"field": "password", "message": "Use at least 8 characters; a few words make a good passphrase."}
    ]
    assert "password" in body["detail"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b"", 422, id="empty body"),
        pytest.param(b"{", 422, id="malformed JSON"),
        pytest.param({"email": 1, "password": DEFAULT_PASSWORD}, 422, id="email is a number"),
        pytest.param({"email": "a@example.com", "password": ["x"]}, 422, id="password is a list"),
        pytest.param({"email": "a@example.com"}, 422, id="no password"),
        pytest.param({"email": "", "password": DEFAULT_PASSWORD}, 422, id="empty email"),
        pytest.param({"email": "a@example.com", "password": ""}, 422, id="empty password"),
        pytest.param({"email": "a@example.com", "password": "p" * ONE_MEGABYTE}, 413, id="1 MB password"),
        pytest.param({"email": "' OR 1=1 --", "password": "' OR 1=1 --"}, 401, id="SQL"),
        pytest.param({"email": "😀@example.com", "password": "🔑🔑🔑🔑🔑🔑🔑🔑"}, 401, id="emoji"),
    ],
)
def test_bad_logins_get_a_4xx_sentence_and_no_token(
    api: httpx.Client, body: dict | bytes, status: int
) -> None:
    if isinstance(body, bytes):
        response = api.post("/api/auth/login", content=body, headers={"Content-Type": "application/json"})
    else:
        response = api.post("/api/auth/login", json=body)

    assert_json_error(response, status)
    assert "token" not in response.json()
