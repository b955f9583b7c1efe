"""`?next=` after sign-in can only lead to a page of this site, whatever a link puts in it."""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from voice_app import routes
from voice_app.auth.state import login_url, safe_next_path

SITE = "https://voice.example.com"

HOSTILE = [
    "https://evil.example",
    "http:evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\x00/evil.example",
    " /talk",
    "",
    "talk",
    "evil.example/talk",
]


@pytest.mark.parametrize("candidate", HOSTILE)
def test_a_link_to_another_site_or_no_path_sends_the_user_to_the_talk_page(candidate: str) -> None:
    assert safe_next_path(candidate) == routes.TALK


@pytest.mark.parametrize(
    "candidate", [routes.LOGIN, routes.SIGNUP, routes.LOGOUT, f"{routes.LOGIN}?next=/talk"]
)
def test_the_sign_in_pages_themselves_are_not_a_destination(candidate: str) -> None:
    assert safe_next_path(candidate) == routes.TALK


@pytest.mark.parametrize("candidate", [routes.TALK, routes.HISTORY, "/history/room-1", "/history?page=2"])
def test_a_page_of_this_site_is_kept(candidate: str) -> None:
    assert safe_next_path(candidate) == candidate


@given(st.text())
@example("/\\evil.example")
@example("//evil.example")
@example("/%2F%2Fevil.example")
def test_whatever_the_input_the_destination_stays_on_this_site(candidate: str) -> None:
    destination = safe_next_path(candidate)

    assert destination.startswith("/")
    resolved = urlsplit(urljoin(SITE, destination))
    assert (resolved.scheme, resolved.netloc) == ("https", "voice.example.com")
    assert destination == candidate or destination == routes.TALK


@given(st.text())
def test_the_login_link_carries_a_safe_destination_that_reads_back_unchanged(candidate: str) -> None:
    url = login_url(candidate)

    assert url.startswith(f"{routes.LOGIN}?next=")
    (carried,) = parse_qs(urlsplit(url).query, keep_blank_values=True)["next"]
    assert carried == safe_next_path(candidate)
