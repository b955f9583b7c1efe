"""Per-user preferences: memory across conversations, push-to-talk.

Revision ID: c4a1d2e9f7b3
Revises: b0ff1621d87b
Create Date: 2026-11-30 22:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "c4a1d2e9f7b3"
down_revision: Union[str, Sequence[str], None] = "b0ff1621d87b"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Both off for every existing user."""
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("memory_enabled", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("push_to_talk", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop both columns."""
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("push_to_talk")
        batch_op.drop_column("memory_enabled")
