"""share_link: read-only links to a conversation for the signed-in users of a team deployment.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "share_link",
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    op.create_index(op.f("ix_share_link_conversation_id"), "share_link", ["conversation_id"], unique=True)
    op.create_index(op.f("ix_share_link_owner"), "share_link", ["owner"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_share_link_owner"), table_name="share_link")
    op.drop_index(op.f("ix_share_link_conversation_id"), table_name="share_link")
    op.drop_table("share_link")
