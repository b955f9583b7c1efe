"""`DELETE /api/me`: the signed-in user deletes their account and everything of theirs."""

from __future__ import annotations

from contextlib import suppress
from functools import partial

from fastapi import APIRouter, Response, status

from voice_app.account import removal
from voice_app.api_errors import NOT_SIGNED_IN, error_responses
from voice_app.auth.deps import CurrentUser, DatabaseDep

router = APIRouter(tags=["accounts"])


@router.delete(
    "/api/me", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses({401: NOT_SIGNED_IN})
)
async def delete_me(user: CurrentUser, db: DatabaseDep) -> Response:
    """Delete the caller's account, conversations, rooms and sessions; every token of theirs stops working."""
    # Already gone (another request deleted it meanwhile) is the outcome the caller asked for.
    with suppress(removal.AccountNotFound):
        await db.run(partial(removal.delete_account, user_id=user.id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
