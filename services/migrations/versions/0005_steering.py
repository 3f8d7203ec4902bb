"""Per-conversation steering (system prompt, temperature, answer length, model) and each owner's
defaults for new conversations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEERING = ("system_prompt", "temperature", "max_tokens", "model")


def _columns() -> list[sa.Column]:
    return [
        sa.Column("system_prompt", sa.String(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("max_tokens", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("conversation") as batch_op:
        for column in _columns():
            batch_op.add_column(column)
    op.create_table(
        "chat_defaults",
        sa.Column("owner", sa.String(), nullable=False),
        *_columns(),
        sa.PrimaryKeyConstraint("owner"),
    )


def downgrade() -> None:
    op.drop_table("chat_defaults")
    with op.batch_alter_table("conversation") as batch_op:
        for name in STEERING:
            batch_op.drop_column(name)
