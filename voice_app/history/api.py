"""The conversations routes: list, read, download and delete a signed-in user's conversations.

Thin over `voice_app.history.service`, `removal` and `download`. Another user's conversation
answers 404 exactly like a missing one, so ids reveal nothing.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel

from voice_app.api_errors import NOT_SIGNED_IN, error_responses
from voice_app.auth.deps import CurrentUser, DatabaseDep
from voice_app.history import download, removal, service

router = APIRouter(prefix="/api/conversations", tags=["conversations"])

CONVERSATION_NOT_FOUND = "There is no conversation with this id among yours."
_ERRORS = error_responses({401: NOT_SIGNED_IN, 404: CONVERSATION_NOT_FOUND, 422: "The id is not a number."})

MAX_ID = 2**31 - 1
"""The largest id the tables hold (PostgreSQL's ``integer``); larger ones are refused with 422."""
ConversationId = Annotated[int, Path(ge=1, le=MAX_ID, description="The conversation's id.", examples=[12])]


class ConversationPublic(BaseModel):
    """A conversation as the list shows it."""

    id: int
    started_at: datetime
    ended_at: datetime | None
    message_count: int
    preview: str


class MessagePublic(BaseModel):
    """One message of a conversation."""

    role: str
    source: str
    text: str
    created_at: datetime


class TranscriptPublic(ConversationPublic):
    """A conversation with all its messages, oldest first."""

    messages: list[MessagePublic]


class DeletedConversations(BaseModel):
    """How many conversations were deleted."""

    deleted: int


def _public(summary: service.ConversationSummary) -> ConversationPublic:
    return ConversationPublic(
        id=summary.id,
        started_at=summary.started_at,
        ended_at=summary.ended_at,
        message_count=summary.message_count,
        preview=summary.preview,
    )


async def _transcript_or_404(
    db: DatabaseDep, user: CurrentUser, conversation_id: int
) -> service.ConversationTranscript:
    try:
        return await db.run(
            partial(service.get_conversation, user_id=user.id, conversation_id=conversation_id)
        )
    except service.ConversationNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND) from None


@router.get("", response_model=list[ConversationPublic], responses=error_responses({401: NOT_SIGNED_IN}))
async def list_conversations(user: CurrentUser, db: DatabaseDep) -> list[ConversationPublic]:
    """The caller's conversations, newest first."""
    return [_public(s) for s in await db.run(partial(service.list_conversations, user_id=user.id))]


@router.delete("", response_model=DeletedConversations, responses=error_responses({401: NOT_SIGNED_IN}))
async def delete_all_conversations(user: CurrentUser, db: DatabaseDep) -> DeletedConversations:
    """Delete every conversation of the caller, with all their messages."""
    return DeletedConversations(
        deleted=await db.run(partial(removal.delete_all_conversations, user_id=user.id))
    )


@router.get("/{conversation_id}", response_model=TranscriptPublic, responses=_ERRORS)
async def read_conversation(
    user: CurrentUser, db: DatabaseDep, conversation_id: ConversationId
) -> TranscriptPublic:
    """One conversation with its whole transcript."""
    found = await _transcript_or_404(db, user, conversation_id)
    return TranscriptPublic(
        **_public(found.conversation).model_dump(),
        messages=[MessagePublic(**vars(message)) for message in found.messages],
    )


@router.get(
    "/{conversation_id}/download",
    responses={
        200: {
            "description": "The whole transcript as a file (`Content-Disposition: attachment`).",
            "content": {"text/markdown": {}, "application/json": {}},
        },
        **_ERRORS,
    },
    response_class=Response,
)
async def download_conversation(
    user: CurrentUser,
    db: DatabaseDep,
    conversation_id: ConversationId,
    file_format: Annotated[download.DownloadFormat, Query(alias="format")] = "markdown",
) -> Response:
    """The whole transcript as a Markdown or JSON file."""
    found = await _transcript_or_404(db, user, conversation_id)
    filename = download.download_filename(found, file_format)
    return Response(
        download.render(found, file_format),
        media_type=download.MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
async def delete_conversation(
    user: CurrentUser, db: DatabaseDep, conversation_id: ConversationId
) -> Response:
    """Delete one conversation of the caller with all its messages."""
    try:
        await db.run(partial(removal.delete_conversation, user_id=user.id, conversation_id=conversation_id))
    except service.ConversationNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, CONVERSATION_NOT_FOUND) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
