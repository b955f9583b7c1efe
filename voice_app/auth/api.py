"""Account routes for API clients: register, login, logout and the signed-in user (bearer tokens)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, HTTPException, Response, status

from voice_app.api_errors import NOT_SIGNED_IN, error_responses
from voice_app.auth import service
from voice_app.auth.deps import BearerToken, ClientAddress, CurrentUser, DatabaseDep, SettingsDep
from voice_app.auth.models import LoginResult, User, UserLogin, UserPublic, UserRegister
from voice_app.auth.throttle import get_login_throttle
from voice_app.db import Database

router = APIRouter(tags=["accounts"])

EMAIL_TAKEN_MESSAGE = "An account with this email already exists."
_INVALID_FIELDS = "The body is not valid JSON, or a field breaks its rule; `errors` names each field."
REGISTER_ERRORS = error_responses(
    {409: "An account with this email (in any letter case) exists.", 422: _INVALID_FIELDS}
)
LOGIN_ERRORS = error_responses(
    {
        401: service.INVALID_CREDENTIALS_MESSAGE,
        422: _INVALID_FIELDS,
        429: "Too many failed sign-ins for this email or from this address.",
    }
)
LOGIN_ERRORS[429]["headers"] = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
}


@router.post(
    "/api/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=REGISTER_ERRORS,
)
async def register(body: UserRegister, db: DatabaseDep) -> UserPublic:
    """Create an account. 409 when the email (any letter case) is taken, 422 names invalid fields."""
    return UserPublic.model_validate(await register_or_409(body, db=db))


async def register_or_409(body: UserRegister, *, db: Database) -> User:
    """The new account, or the 409 that says the email is taken (shared with the browser's sign-up)."""
    try:
        return await service.register_user(db=db, registration=body)
    except service.EmailTaken:
        raise HTTPException(status.HTTP_409_CONFLICT, EMAIL_TAKEN_MESSAGE) from None


@router.post("/api/auth/login", response_model=LoginResult, responses=LOGIN_ERRORS)
async def login(
    body: UserLogin, db: DatabaseDep, settings: SettingsDep, address: ClientAddress
) -> LoginResult:
    """Exchange email and password for a bearer token.

    401 says the same for an unknown email and a wrong password; 429 with ``Retry-After``
    (seconds) after repeated failures for this email or from this address.
    """
    user = await authenticate_or_401(body, db=db, address=address)
    issued = await db.run(partial(service.create_login_session, user=user, settings=settings))
    return LoginResult(
        token=issued.token,
        expires_at=issued.expires_at,
        idle_timeout_seconds=int(issued.idle_timeout.total_seconds()),
        user=UserPublic.model_validate(user),
    )


async def authenticate_or_401(body: UserLogin, *, db: Database, address: str) -> User:
    """The user these credentials belong to, or the 401/429 that says why not.

    Shared with the browser's sign-in (`voice_app.auth.browser_api`).
    """
    try:
        return await service.authenticate(
            db=db,
            email=body.email,
            password=body.password,
            client_address=address,
            throttle=get_login_throttle(),
        )
    except service.InvalidCredentials:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, service.INVALID_CREDENTIALS_MESSAGE) from None
    except service.TooManyAttempts as error:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Too many failed sign-ins; try again in {error.retry_after} seconds.",
            headers={"Retry-After": str(error.retry_after)},
        ) from None


@router.post(
    "/api/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses({401: NOT_SIGNED_IN}),
)
async def logout(_user: CurrentUser, token: BearerToken, db: DatabaseDep) -> Response:
    """Sign this token's session out on the server; the token is refused from now on."""
    await db.run(partial(service.revoke_session, token=token))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/me", response_model=UserPublic, responses=error_responses({401: NOT_SIGNED_IN}))
async def read_me(user: CurrentUser) -> UserPublic:
    """The signed-in user (never the password hash)."""
    return UserPublic.model_validate(user)
