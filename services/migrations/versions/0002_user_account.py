"""user_account: people signed in by a proxy header or OIDC (AUTH_MODE header|oidc).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_account_email", "user_account", ["email"], unique=True)
    op.create_index("ix_user_account_subject", "user_account", ["subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_user_account_subject", "user_account")
    op.drop_index("ix_user_account_email", "user_account")
    op.drop_table("user_account")
