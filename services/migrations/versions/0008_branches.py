"""message.parent_id and message.picked_at: edited questions branch a thread, and the shown branch is kept.

Every existing question follows the one before it in its conversation, so a linear thread stays the
same visible thread.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("picked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_message_parent_id", ["parent_id"])
    op.execute(
        "UPDATE message SET parent_id = (SELECT max(p.id) FROM message p WHERE p.conversation_id ="
        " message.conversation_id AND p.role = 'user' AND p.id < message.id) WHERE role = 'user'"
    )


def downgrade() -> None:
    with op.batch_alter_table("message") as batch_op:
        batch_op.drop_index("ix_message_parent_id")
        batch_op.drop_column("picked_at")
        batch_op.drop_column("parent_id")
