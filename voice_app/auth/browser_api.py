"""Account routes for the app's own pages: the session goes into an ``HttpOnly`` cookie.

The sign-in and sign-up forms post here with ``fetch`` and then load their next page, whose
WebSocket carries the cookie to the Reflex state (`voice_app.auth.browser_session` says why).
The body never holds the token, so no script on the page can read it. Same rules, errors and
words as the bearer routes in `voice_app.auth.api`; every route here answers 403 to a request
from another origin.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Cookie, Response, status
from pydantic import BaseModel

from voice_app.api_errors import error_responses
from voice_app.auth import service
from voice_app.auth.api import LOGIN_ERRORS, REGISTER_ERRORS, authenticate_or_401, register_or_409
from voice_app.auth.browser_session import (
    FOREIGN_ORIGIN_MESSAGE,
    clear_session_cookie,
    session_cookie_name,
    set_session_cookie,
)
from voice_app.auth.deps import ClientAddress, DatabaseDep, SettingsDep
from voice_app.auth.models import User, UserLogin, UserPublic, UserRegister
from voice_app.db import Database
from voice_app.settings import Settings, get_settings

BROWSER_AUTH_PREFIX = "/api/auth/browser"

router = APIRouter(prefix=BROWSER_AUTH_PREFIX, tags=["browser session"])

_FOREIGN_ORIGIN = error_responses({403: FOREIGN_ORIGIN_MESSAGE})

# A plain optional cookie, not the security scheme `CurrentUser` uses: signing out without a
# session is allowed, and the schema should say the cookie is optional here.
OptionalSessionCookie = Annotated[
    str | None, Cookie(alias=session_cookie_name(get_settings()), description="The session to end, if any.")
]


class BrowserSession(BaseModel):
    """A browser's new session. The token is in the ``HttpOnly`` cookie, never in the body."""

    expires_at: datetime
    idle_timeout_seconds: int
    user: UserPublic


async def _start_session(
    *, db: Database, user: User, settings: Settings, response: Response
) -> BrowserSession:
    issued = await db.run(partial(service.create_login_session, user=user, settings=settings))
    set_session_cookie(response, token=issued.token, expires_at=issued.expires_at, settings=settings)
    response.headers["Cache-Control"] = "no-store"
    return BrowserSession(
        expires_at=issued.expires_at,
        idle_timeout_seconds=int(issued.idle_timeout.total_seconds()),
        user=UserPublic.model_validate(user),
    )


@router.post("/login", response_model=BrowserSession, responses={**LOGIN_ERRORS, **_FOREIGN_ORIGIN})
async def browser_login(
    body: UserLogin, response: Response, db: DatabaseDep, settings: SettingsDep, address: ClientAddress
) -> BrowserSession:
    """Sign a browser in: the session cookie is set. Errors as for ``POST /api/auth/login``."""
    user = await authenticate_or_401(body, db=db, address=address)
    return await _start_session(db=db, user=user, settings=settings, response=response)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=BrowserSession,
    responses={**REGISTER_ERRORS, **_FOREIGN_ORIGIN},
)
async def browser_register(
    body: UserRegister, response: Response, db: DatabaseDep, settings: SettingsDep
) -> BrowserSession:
    """Create an account and sign this browser in. Errors as for ``POST /api/auth/register``."""
    user = await register_or_409(body, db=db)
    return await _start_session(db=db, user=user, settings=settings, response=response)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=_FOREIGN_ORIGIN)
async def browser_logout(
    db: DatabaseDep, settings: SettingsDep, cookie_token: OptionalSessionCookie = None
) -> Response:
    """End the cookie's session on the server and clear the cookie (204 also without a session)."""
    if cookie_token:
        await db.run(partial(service.revoke_session, token=cookie_token))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookie(response, settings=settings)
    return response
