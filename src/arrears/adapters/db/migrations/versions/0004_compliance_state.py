"""compliance state: account events (holds), gate decisions, flagged notes

Revision ID: 0004c
Revises: 0003
Create Date: 2026-11-29 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import arrears.adapters.db.tables

revision: str = "0004c"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = arrears.adapters.db.tables.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "account_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("address", sa.String(length=128), nullable=True),
        sa.Column("scope", sa.String(length=128), nullable=True),
        sa.Column("window_start", sa.Time(), nullable=True),
        sa.Column("window_end", sa.Time(), nullable=True),
        sa.Column("until", _TS, nullable=True),
        sa.Column("agency", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_account_events_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_account_events")),
    )
    op.create_index(
        "ix_account_events_borrower_id_at", "account_events", ["borrower_id", "at"], unique=False
    )
    op.create_table(
        "gate_decisions",
        sa.Column("decision_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decided_at", _TS, nullable=False),
        sa.Column("pack", sa.String(length=8), nullable=False),
        sa.Column("pack_version", sa.String(length=16), nullable=False),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=True),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("rules", _JSON, nullable=False),
        sa.Column("blocked_by", _JSON, nullable=False),
        sa.Column("reasons", _JSON, nullable=False),
        sa.Column("next_allowed_at", _TS, nullable=True),
        sa.Column("duties", _JSON, nullable=False),
        sa.Column("attempt", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_gate_decisions_borrower_id_borrowers"),
        ),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_gate_decisions")),
    )
    op.create_index("ix_gate_decisions_borrower_id", "gate_decisions", ["borrower_id"])
    op.create_index("ix_gate_decisions_decided_at", "gate_decisions", ["decided_at"])
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flagged", sa.String(length=200), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION arrears_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in ("gate_decisions", "account_events"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION arrears_append_only()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("gate_decisions", "account_events"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS arrears_append_only()")
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_column("flagged")
    op.drop_index("ix_gate_decisions_decided_at", table_name="gate_decisions")
    op.drop_index("ix_gate_decisions_borrower_id", table_name="gate_decisions")
    op.drop_table("gate_decisions")
    op.drop_index("ix_account_events_borrower_id_at", table_name="account_events")
    op.drop_table("account_events")
