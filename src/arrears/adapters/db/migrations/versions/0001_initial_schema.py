"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 12:44:07.162318
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import arrears.adapters.db.tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "borrowers",
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("id_number", sa.String(length=32), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("latitude", arrears.adapters.db.tables.ExactDecimal(), nullable=True),
        sa.Column("longitude", arrears.adapters.db.tables.ExactDecimal(), nullable=True),
        sa.Column("employer", sa.Text(), nullable=True),
        sa.Column("monthly_income_minor", sa.BigInteger(), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "created_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_import_run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("borrower_id", name=op.f("pk_borrowers")),
    )
    op.create_table(
        "cycle_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column(
            "started_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "finished_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("loans_recomputed", sa.Integer(), nullable=False),
        sa.Column("loans_carried", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_runs")),
    )
    with op.batch_alter_table("cycle_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cycle_runs_as_of"), ["as_of"], unique=False)

    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "started_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "finished_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("borrowers", sa.Integer(), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.Column("loans", sa.Integer(), nullable=False),
        sa.Column("installments", sa.Integer(), nullable=False),
        sa.Column("payments_seen", sa.Integer(), nullable=False),
        sa.Column("payments_new", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    op.create_table(
        "contacts",
        sa.Column("contact_id", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_import_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_contacts_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_borrower_id"), ["borrower_id"], unique=False)

    op.create_table(
        "loans",
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("annual_rate", arrears.adapters.db.tables.ExactDecimal(), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("repayment_method", sa.String(length=16), nullable=False),
        sa.Column("penalty_markup", arrears.adapters.db.tables.ExactDecimal(), nullable=True),
        sa.Column("grace_days", sa.Integer(), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("restructured", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("last_import_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.borrower_id"], name=op.f("fk_loans_borrower_id_borrowers")
        ),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_loans")),
    )
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loans_borrower_id"), ["borrower_id"], unique=False)

    op.create_table(
        "installments",
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_installments_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", "seq", name=op.f("pk_installments")),
    )
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("paid_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("import_run_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_payments_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_loan_id_paid_on", ["loan_id", "paid_on"], unique=False)

    op.create_table(
        "status_history",
        sa.Column("loan_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=8), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=False),
        sa.Column("overdue_principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("overdue_interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("accrued_penalty_minor", sa.BigInteger(), nullable=False),
        sa.Column("accrued_compound_minor", sa.BigInteger(), nullable=False),
        sa.Column("principal_outstanding_minor", sa.BigInteger(), nullable=False),
        sa.Column("next_due_date", sa.Date(), nullable=True),
        sa.Column("next_due_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_due_now_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_off", sa.Boolean(), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=True),
        sa.Column("accrual_den", sa.BigInteger(), nullable=True),
        sa.Column("penalty_num", sa.BigInteger(), nullable=True),
        sa.Column("compound_num", sa.BigInteger(), nullable=True),
        sa.Column("penalty_per_day", sa.BigInteger(), nullable=True),
        sa.Column("compound_per_day", sa.BigInteger(), nullable=True),
        sa.Column("quiet_until", sa.Date(), nullable=True),
        sa.Column("cycle_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_status_history_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", "as_of", name=op.f("pk_status_history")),
    )
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.create_index("ix_status_history_as_of", ["as_of"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.drop_index("ix_status_history_as_of")

    op.drop_table("status_history")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_loan_id_paid_on")

    op.drop_table("payments")
    op.drop_table("installments")
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loans_borrower_id"))

    op.drop_table("loans")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_borrower_id"))

    op.drop_table("contacts")
    op.drop_table("import_runs")
    with op.batch_alter_table("cycle_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cycle_runs_as_of"))

    op.drop_table("cycle_runs")
    op.drop_table("borrowers")
