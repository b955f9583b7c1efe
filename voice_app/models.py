"""Every table of the app, imported in one place so Alembic's autogenerate sees them all."""

from voice_app.auth.models import LoginSession, User
from voice_app.history.models import Conversation, ConversationMessage
from voice_app.rooms.models import Room

__all__ = ["Conversation", "ConversationMessage", "LoginSession", "Room", "User"]
