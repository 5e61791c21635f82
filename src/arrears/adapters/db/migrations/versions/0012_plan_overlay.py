"""status rows overlaid by a repayment plan: what the overlay did

Revision ID: 0012o
Revises: 0011r
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012o"
down_revision: str | None = "0011r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Nullable, no default: a metadata-only change on PostgreSQL, ADD COLUMN on SQLite.
    op.add_column("status_history", sa.Column("plan_overlay", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.drop_column("plan_overlay")
