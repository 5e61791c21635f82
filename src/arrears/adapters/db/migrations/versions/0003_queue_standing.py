"""work queue standing on account assignments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 01:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.adapters.db.tables

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LAST = "(SELECT max(as_of) FROM status_history)"
_MINE = "s.borrower_id = account_assignments.borrower_id AND s.as_of = " + _LAST
_CONTACT = "c.borrower_id = account_assignments.borrower_id"


def upgrade() -> None:
    with op.batch_alter_table("account_assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("standing_as_of", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("loans", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("dpd", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("due_minor", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "last_contact_at",
                arrears.adapters.db.tables.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("next_action_on", sa.Date(), nullable=True))
    # The standing of accounts assigned before this revision (same figures as
    # services.standing.refresh_standing computes).
    op.execute(
        "UPDATE account_assignments SET "
        f"standing_as_of = {_LAST}, "
        f"loans = (SELECT count(*) FROM status_history s WHERE {_MINE}), "
        f"dpd = coalesce((SELECT max(s.dpd) FROM status_history s WHERE {_MINE}), 0), "
        "due_minor = coalesce((SELECT sum(s.total_due_now_minor) FROM status_history s "
        f"WHERE {_MINE}), 0), "
        f"last_contact_at = (SELECT max(c.at) FROM contact_attempts c WHERE {_CONTACT}), "
        "next_action_on = (SELECT min(c.next_action_on) FROM contact_attempts c "
        f"WHERE {_CONTACT})"
    )


def downgrade() -> None:
    with op.batch_alter_table("account_assignments", schema=None) as batch_op:
        for column in ("next_action_on", "last_contact_at", "due_minor", "dpd", "loans"):
            batch_op.drop_column(column)
        batch_op.drop_column("standing_as_of")
