"""repayment plans

Revision ID: 0009p
Revises: 0008n
Create Date: 2026-11-29 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import arrears.adapters.db.tables

revision: str = "0009p"
down_revision: str | None = "0008n"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = arrears.adapters.db.tables.UTCDateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("plan_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("terms", _JSON, nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("payable_minor", sa.BigInteger(), nullable=False),
        sa.Column("waived_minor", sa.BigInteger(), nullable=False),
        sa.Column("income_expenditure", _JSON, nullable=True),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposed_role", sa.String(length=16), nullable=False),
        sa.Column("proposed_at", _TS, nullable=False),
        sa.Column("approval_required", sa.Boolean(), nullable=False),
        sa.Column("approval_reasons", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("accepted_at", _TS, nullable=True),
        sa.Column("accepted_how", sa.String(length=16), nullable=True),
        sa.Column("acceptance_reference", sa.String(length=200), nullable=True),
        sa.Column("accepted_recorded_by", sa.String(length=64), nullable=True),
        sa.Column("agreement_sha256", sa.String(length=64), nullable=True),
        sa.Column("paid_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("last_evaluated_on", sa.Date(), nullable=True),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.borrower_id"], name=op.f("fk_plans_borrower_id_borrowers")
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_plans_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plans")),
    )
    op.create_index("ix_plans_borrower_id", "plans", ["borrower_id"])
    op.create_index("ix_plans_loan_id", "plans", ["loan_id"])
    op.create_index("ix_plans_status", "plans", ["status"])
    op.create_table(
        "plan_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.plan_id"], name=op.f("fk_plan_events_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_plan_events")),
        sa.UniqueConstraint("plan_id", "kind", "on", name=op.f("uq_plan_events_plan_id_kind_on")),
    )
    op.create_index("ix_plan_events_plan_id", "plan_events", ["plan_id"])


def downgrade() -> None:
    op.drop_index("ix_plan_events_plan_id", table_name="plan_events")
    op.drop_table("plan_events")
    op.drop_index("ix_plans_status", table_name="plans")
    op.drop_index("ix_plans_loan_id", table_name="plans")
    op.drop_index("ix_plans_borrower_id", table_name="plans")
    op.drop_table("plans")
