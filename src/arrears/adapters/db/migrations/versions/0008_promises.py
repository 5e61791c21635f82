"""promises to pay

Revision ID: 0008n
Revises: 0007t
Create Date: 2026-11-29 04:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.adapters.db.tables

revision: str = "0008n"
down_revision: str | None = "0007t"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = arrears.adapters.db.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "promises",
        sa.Column("promise_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("promised_by", sa.String(length=32), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("tolerance_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.borrower_id"], name=op.f("fk_promises_borrower_id_borrowers")
        ),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.loan_id"], name=op.f("fk_promises_loan_id_loans")),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["contact_attempts.attempt_id"],
            name=op.f("fk_promises_attempt_id_contact_attempts"),
        ),
        sa.PrimaryKeyConstraint("promise_id", name=op.f("pk_promises")),
    )
    op.create_index("ix_promises_borrower_id", "promises", ["borrower_id"])
    op.create_index("ix_promises_status", "promises", ["status"])
    op.create_index("ix_promises_recorded_by", "promises", ["recorded_by"])
    op.create_table(
        "promise_items",
        sa.Column("promise_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["promise_id"], ["promises.promise_id"], name=op.f("fk_promise_items_promise_id_promises")
        ),
        sa.PrimaryKeyConstraint("promise_id", "seq", name=op.f("pk_promise_items")),
    )


def downgrade() -> None:
    op.drop_table("promise_items")
    op.drop_index("ix_promises_recorded_by", table_name="promises")
    op.drop_index("ix_promises_status", table_name="promises")
    op.drop_index("ix_promises_borrower_id", table_name="promises")
    op.drop_table("promises")
