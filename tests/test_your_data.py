"""A user's data is theirs: they download a conversation whole, delete one or all of them, or
delete the account, and nothing of theirs is left in the database. Against the real backend
and database; conversations are stored as the agent worker stores them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlmodel import Session, SQLModel

from tests.factories import SignedInUser, sign_in, store_conversation
from tests.support.browser import ARTIFACTS_DIR, AppServer
from tests.support.processes import wait_until
from voice_app import routes
from voice_app.auth.browser_session import SESSION_COOKIE
from voice_app.db import make_engine
from voice_app.history.models import Conversation, ConversationMessage
from voice_app.models import __all__ as _every_table  # noqa: F401 - registers every table

PAGE_TIMEOUT_MS = 90_000  # the dev server compiles each page on its first visit
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


# In the browser: the same actions on the history and account pages.


@pytest.fixture
def page(chromium, request: pytest.FixtureRequest) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    yield page
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS_DIR / f"{request.node.name}-final.png"), full_page=True)
    context.close()


def sign_in_page(page: Page, app: AppServer, user: SignedInUser) -> None:
    page.goto(f"{app.frontend_url}{routes.LOGIN}?next={routes.HISTORY}")
    page.locator("#email").fill(user.email)
    page.locator("#password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda address: address.rstrip("/").endswith(routes.HISTORY))


def confirm(page: Page, button_id: str, confirm_label: str) -> None:
    page.locator(f"#{button_id}").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=confirm_label, exact=True).click()


@pytest.mark.browser
@pytest.mark.slow
def test_in_the_browser_a_user_downloads_deletes_one_deletes_all_then_deletes_the_account(
    page: Page, app_server: AppServer, database_url: str
) -> None:
    with httpx.Client(base_url=app_server.backend_url, timeout=30) as client:
        ada = sign_in(client, display_name="Ada")
    first = store_conversation(database_url, ada.user_id, LINES, minutes_ago=90)
    for minutes_ago in (60, 30):
        store_conversation(database_url, ada.user_id, LINES[:2], minutes_ago=minutes_ago)
    sign_in_page(page, app_server, ada)
    expect(page.locator("li.conversation")).to_have_count(3)

    page.goto(f"{app_server.frontend_url}{routes.HISTORY}/{first}")
    expect(page.locator("#transcript")).to_contain_text("Take a hat.")
    with page.expect_download() as markdown_download:
        page.get_by_role("button", name="Download as Markdown").click()
    assert markdown_download.value.suggested_filename.endswith(".md")
    markdown = Path(markdown_download.value.path()).read_text()
    for _role, _source, line in LINES:
        for part in line.splitlines():
            assert f"> {part}" in markdown
    with page.expect_download() as json_download:
        page.get_by_role("button", name="Download as JSON").click()
    document = json.loads(Path(json_download.value.path()).read_text())
    assert [(m["role"], m["source"], m["text"]) for m in document["messages"]] == LINES

    page.locator("#delete-conversation").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    assert messages_of(database_url, ada.user_id) == len(LINES) + 4
    confirm(page, "delete-conversation", "Delete")
    page.wait_for_url(lambda address: address.rstrip("/").endswith(routes.HISTORY))
    expect(page.locator("li.conversation")).to_have_count(2)
    assert messages_of(database_url, ada.user_id) == 4

    confirm(page, "delete-all-conversations", "Delete all")
    expect(page.get_by_text("No conversations yet.")).to_be_visible()
    assert messages_of(database_url, ada.user_id) == 0

    store_conversation(database_url, ada.user_id, LINES)
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_role("heading", name="Your account", exact=True)).to_be_visible()
    expect(page.locator("main")).to_contain_text(ada.email)
    confirm(page, "delete-account", "Delete my account")
    expect(page.get_by_role("heading", name="Your account has been deleted")).to_be_visible()
    assert rows_naming(database_url, ada.user_id) == {}
    wait_until(
        lambda: not any(c["name"] == SESSION_COOKIE for c in page.context.cookies()),
        timeout=10,
        what="the deleted account's session cookie cleared",
    )
    page.goto(app_server.frontend_url + routes.HISTORY)
    page.wait_for_url(lambda address: routes.LOGIN in address)
