"""FastAPI dependencies for routes: settings, the database and the signed-in user.

Routes read ``async def read_me(user: CurrentUser)``. The user comes from the bearer token (API
clients) or, without a bearer token, from the browser's session cookie
(`voice_app.auth.browser_session`, which also keeps other sites from riding it). A missing,
unknown, expired or revoked session is answered with ``401`` JSON and ``WWW-Authenticate: Bearer``
before the route runs.

Database work runs through `voice_app.db.Database`, off the event loop, in bounded units; a
request holds a connection only while its query runs.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from voice_app.auth import service
from voice_app.auth.browser_session import session_cookie_name
from voice_app.auth.models import SignedInUser
from voice_app.db import Database, get_database
from voice_app.settings import Settings, get_settings


async def current_settings() -> Settings:
    """The process's settings."""
    return get_settings()


async def current_database() -> Database:
    """The process's database."""
    return get_database()


DatabaseDep = Annotated[Database, Depends(current_database)]
SettingsDep = Annotated[Settings, Depends(current_settings)]

_bearer = HTTPBearer(auto_error=False, description="The token from `POST /api/auth/login`.")
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

_session_cookie = APIKeyCookie(
    name=session_cookie_name(get_settings()),
    auto_error=False,
    description="The browser's session, set HttpOnly by `POST /api/auth/browser/login`.",
)
SessionCookie = Annotated[str | None, Depends(_session_cookie)]


async def get_bearer_token(credentials: BearerCredentials) -> str:
    """The token from ``Authorization: Bearer <token>``, or 401 when there is none."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Sign in first: send the token from POST /api/auth/login as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


BearerToken = Annotated[str, Depends(get_bearer_token)]


async def get_current_user(
    db: DatabaseDep, credentials: BearerCredentials, cookie_token: SessionCookie, settings: SettingsDep
) -> SignedInUser:
    """The user whose live session the request carries (refreshes the idle timer).

    The session is the bearer token's, else the session cookie's; a bearer token that is refused
    never falls back to the cookie.
    """
    token = cookie_token if credentials is None and cookie_token else await get_bearer_token(credentials)
    try:
        return await db.run(partial(service.resolve_session, token=token, settings=settings))
    except service.SessionInvalid:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Your session has expired or was signed out; sign in again.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


CurrentUser = Annotated[SignedInUser, Depends(get_current_user)]


async def client_address(request: Request, settings: SettingsDep) -> str:
    """The caller's address, from X-Forwarded-For only behind ``TRUSTED_PROXY_HOPS`` proxies."""
    address = request.client.host if request.client else "unknown"
    if settings.TRUSTED_PROXY_HOPS:
        forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= settings.TRUSTED_PROXY_HOPS:
            address = forwarded[-settings.TRUSTED_PROXY_HOPS]
    return address


ClientAddress = Annotated[str, Depends(client_address)]
