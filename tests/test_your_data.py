"""A user's data is theirs: they download a conversation whole, delete one or all of them, or
delete the account, and nothing of theirs is left in the database. Against the real backend
and database; conversations are stored as the agent worker stores them."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from tests.factories import SignedInUser, sign_in, store_conversation
from voice_app.db import make_engine
from voice_app.history.models import Conversation, ConversationMessage
from voice_app.models import __all__ as _every_table  # noqa: F401 - registers every table

LINES = [
    ("agent", "spoken", "Hello Ada! What can I do for you?"),
    ("user", "spoken", "What is the weather like in Paris today?"),
    ("agent", "spoken", "Sunny, with a *light* breeze.\nTake a hat."),
    ("user", "typed", "Thanks! # not a heading"),
]


def messages_of(database_url: str, user_id: int) -> int:
    """Messages in the database that belong to ``user_id``'s conversations."""
    with Session(make_engine(database_url)) as db:
        return db.execute(
            select(func.count())
            .select_from(ConversationMessage)
            .join(Conversation, Conversation.id == ConversationMessage.conversation_id)  # type: ignore[arg-type]
            .where(Conversation.user_id == user_id)  # type: ignore[arg-type]
        ).scalar_one()


def rows_naming(database_url: str, user_id: int) -> dict[str, int]:
    """Rows of every table that points at ``user_id`` (through a foreign key to ``user.id``, or
    as the user row itself), by table; tables added later are covered without changing this."""
    found: dict[str, int] = {}
    with Session(make_engine(database_url)) as db:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                points_at_user = any(fk.target_fullname == "user.id" for fk in column.foreign_keys)
                if points_at_user or (table.name == "user" and column.name == "id"):
                    count = db.execute(
                        select(func.count()).select_from(table).where(column == user_id)
                    ).scalar_one()
                    if count:
                        found[f"{table.name}.{column.name}"] = count
    return found


def test_a_download_holds_the_whole_transcript_as_markdown_or_json(
    api: httpx.Client, database_url: str
) -> None:
    ada = sign_in(api, display_name="Ada")
    conversation_id = store_conversation(database_url, ada.user_id, LINES)

    as_json = api.get(f"/api/conversations/{conversation_id}/download?format=json", headers=ada.headers)
    assert as_json.status_code == 200
    assert as_json.headers["content-type"] == "application/json"
    assert "attachment" in as_json.headers["content-disposition"]
    assert f"conversation-{conversation_id}-" in as_json.headers["content-disposition"]
    document = json.loads(as_json.text)
    assert document["id"] == conversation_id
    assert [(m["role"], m["source"], m["text"]) for m in document["messages"]] == LINES

    as_markdown = api.get(f"/api/conversations/{conversation_id}/download", headers=ada.headers)
    assert as_markdown.status_code == 200
    assert as_markdown.headers["content-type"].startswith("text/markdown")
    assert as_markdown.headers["content-disposition"].endswith('.md"')
    text = as_markdown.text
    assert text.startswith("# Conversation of ")
    for _role, _source, line in LINES:
        for part in line.splitlines():
            assert f"> {part}" in text, part
    assert text.count("**You**") == 2
    assert text.count("**Agent**") == 2
    assert "**You** (typed)" in text

    read = api.get(f"/api/conversations/{conversation_id}", headers=ada.headers)
    assert [m["text"] for m in read.json()["messages"]] == [line for _, _, line in LINES]


def test_deleting_one_conversation_leaves_the_others(api: httpx.Client, database_url: str) -> None:
    ada = sign_in(api, display_name="Ada")
    first = store_conversation(database_url, ada.user_id, LINES)
    second = store_conversation(database_url, ada.user_id, LINES[:2], minutes_ago=30)

    response = api.delete(f"/api/conversations/{first}", headers=ada.headers)

    assert response.status_code == 204
    assert api.get(f"/api/conversations/{first}", headers=ada.headers).status_code == 404
    assert [c["id"] for c in api.get("/api/conversations", headers=ada.headers).json()] == [second]
    assert messages_of(database_url, ada.user_id) == 2
    again = api.delete(f"/api/conversations/{first}", headers=ada.headers)
    assert again.status_code == 404
    assert again.json() == {"detail": "There is no conversation with this id among yours."}


def test_deleting_all_conversations_leaves_no_message_of_the_user(
    api: httpx.Client, database_url: str
) -> None:
    ada, eve = sign_in(api, display_name="Ada"), sign_in(api, display_name="Eve")
    for minutes_ago in (90, 60, 30):
        store_conversation(database_url, ada.user_id, LINES, minutes_ago=minutes_ago)
    eves = store_conversation(database_url, eve.user_id, LINES)

    response = api.delete("/api/conversations", headers=ada.headers)

    assert response.status_code == 200
    assert response.json() == {"deleted": 3}
    assert messages_of(database_url, ada.user_id) == 0
    assert api.get("/api/conversations", headers=ada.headers).json() == []
    assert messages_of(database_url, eve.user_id) == len(LINES)
    assert api.get(f"/api/conversations/{eves}", headers=eve.headers).status_code == 200


def test_deleting_the_account_removes_everything_of_the_user_and_signs_them_out(
    api: httpx.Client, database_url: str
) -> None:
    ada, eve = sign_in(api, display_name="Ada"), sign_in(api, display_name="Eve")
    store_conversation(database_url, ada.user_id, LINES)
    assert api.post("/api/create-room", headers=ada.headers, json={}).status_code == 201
    second_login = api.post("/api/auth/login", json={"email": ada.email, "password": ada.password})
    other_headers = {"Authorization": f"Bearer {second_login.json()['token']}"}
    store_conversation(database_url, eve.user_id, LINES)
    assert rows_naming(database_url, ada.user_id) != {}

    response = api.delete("/api/me", headers=ada.headers)

    assert response.status_code == 204
    assert rows_naming(database_url, ada.user_id) == {}
    assert messages_of(database_url, ada.user_id) == 0
    for headers in (ada.headers, other_headers):
        assert api.get("/api/me", headers=headers).status_code == 401
    login = api.post("/api/auth/login", json={"email": ada.email, "password": ada.password})
    assert login.status_code == 401
    assert messages_of(database_url, eve.user_id) == len(LINES)
    assert api.get("/api/me", headers=eve.headers).status_code == 200
    assert (
        api.post(
            "/api/auth/register", json={"email": ada.email, "password": ada.password, "display_name": "Ada"}
        ).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/conversations/{id}"),
        ("GET", "/api/conversations/{id}/download"),
        ("GET", "/api/conversations/{id}/download?format=json"),
        ("DELETE", "/api/conversations/{id}"),
    ],
)
def test_another_users_conversation_is_not_found_and_stays(
    api: httpx.Client, database_url: str, method: str, path: str
) -> None:
    ada, eve = sign_in(api, display_name="Ada"), sign_in(api, display_name="Eve")
    eves = store_conversation(database_url, eve.user_id, LINES)

    response = api.request(method, path.format(id=eves), headers=ada.headers)
    missing = api.request(method, path.format(id=eves + 100_000), headers=ada.headers)

    assert response.status_code == 404
    assert (
        response.json() == missing.json() == {"detail": "There is no conversation with this id among yours."}
    )
    assert messages_of(database_url, eve.user_id) == len(LINES)
    api.delete("/api/conversations", headers=ada.headers)
    assert messages_of(database_url, eve.user_id) == len(LINES)


@pytest.mark.parametrize(
    ("method", "path", "status", "words"),
    [
        ("GET", "/api/conversations", 401, "Sign in first"),
        ("DELETE", "/api/conversations", 401, "Sign in first"),
        ("GET", "/api/conversations/1", 401, "Sign in first"),
        ("GET", "/api/conversations/1/download", 401, "Sign in first"),
        ("DELETE", "/api/conversations/1", 401, "Sign in first"),
        ("DELETE", "/api/me", 401, "Sign in first"),
    ],
)
def test_without_a_session_every_data_route_answers_401(
    api: httpx.Client, method: str, path: str, status: int, words: str
) -> None:
    response = api.request(method, path)
    assert response.status_code == status
    assert words in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/conversations/abc", "conversation_id"),
        ("/api/conversations/0", "conversation_id"),
        ("/api/conversations/1/download?format=pdf", "format"),
    ],
)
def test_bad_ids_and_formats_answer_422_naming_the_field(api: httpx.Client, path: str, field: str) -> None:
    ada: SignedInUser = sign_in(api)
    response = api.get(path, headers=ada.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"].endswith(field)
