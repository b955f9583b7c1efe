"""The rooms table: which signed-in user owns which LiveKit room."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from voice_app.auth.models import utc_now


class Room(SQLModel, table=True):
    """A LiveKit room created through the API, owned by the user who created it."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, unique=True, index=True)
    owner_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utc_now)
