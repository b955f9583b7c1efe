"""A unique key on each conversation message, so a retried write cannot store it twice.

Revision ID: c4f1a2d3e5b6
Revises: b0ff1621d87b
Create Date: 2026-11-30 22:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

# revision identifiers, used by Alembic.
revision: str = 'c4f1a2d3e5b6'
down_revision: Union[str, Sequence[str], None] = 'c4a1d2e9f7b3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('conversation_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_key', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True))
        batch_op.create_index(batch_op.f('ix_conversation_message_message_key'), ['message_key'], unique=True)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('conversation_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_message_message_key'))
        batch_op.drop_column('message_key')
