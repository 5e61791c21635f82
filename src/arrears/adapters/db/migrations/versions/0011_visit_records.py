"""door visits: the record, the phones' saves and the evidence files

Revision ID: 0011r
Revises: 0010v
Create Date: 2026-11-29 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.adapters.db.tables

revision: str = "0011r"
down_revision: str | None = "0010v"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = arrears.adapters.db.tables.UTCDateTime(timezone=True)


def _dec() -> sa.types.TypeEngine[object]:
    return arrears.adapters.db.tables.ExactDecimal()  # type: ignore[return-value]


def upgrade() -> None:
    op.create_table(
        "visit_records",
        sa.Column("visit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("client_ref", sa.String(length=64), nullable=True),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("start_latitude", _dec(), nullable=True),
        sa.Column("start_longitude", _dec(), nullable=True),
        sa.Column("start_distance_m", sa.Integer(), nullable=True),
        sa.Column("start_reason", sa.Text(), nullable=True),
        sa.Column("agents", sa.Text(), nullable=False),
        sa.Column("recording_confirmed", sa.Boolean(), nullable=False),
        sa.Column("start_decision_id", sa.Integer(), nullable=True),
        sa.Column("met", sa.String(length=16), nullable=True),
        sa.Column("delinquency_reason", sa.String(length=32), nullable=True),
        sa.Column("financial_situation", sa.Text(), nullable=True),
        sa.Column("emotional_state", sa.String(length=16), nullable=True),
        sa.Column("de_escalated", sa.Boolean(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("amount_paid_minor", sa.BigInteger(), nullable=True),
        sa.Column("follow_up", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("note_flagged", sa.String(length=200), nullable=True),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("end_latitude", _dec(), nullable=True),
        sa.Column("end_longitude", _dec(), nullable=True),
        sa.Column("end_distance_m", sa.Integer(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit_requests.visit_id"],
            name=op.f("fk_visit_records_visit_id_visit_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["start_decision_id"],
            ["gate_decisions.decision_id"],
            name=op.f("fk_visit_records_start_decision_id_gate_decisions"),
        ),
        sa.ForeignKeyConstraint(
            ["promise_id"],
            ["promises.promise_id"],
            name=op.f("fk_visit_records_promise_id_promises"),
        ),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_visit_records")),
        sa.UniqueConstraint("client_ref", name=op.f("uq_visit_records_client_ref")),
    )
    op.create_table(
        "visit_record_saves",
        sa.Column("client_ref", sa.String(length=64), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.Column("saved_at", _TS, nullable=False),
        sa.Column("promise_id", sa.Integer(), nullable=True),
        sa.Column("note_flagged", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit_requests.visit_id"],
            name=op.f("fk_visit_record_saves_visit_id_visit_requests"),
        ),
        sa.PrimaryKeyConstraint("client_ref", name=op.f("pk_visit_record_saves")),
    )
    op.create_table(
        "visit_evidence",
        sa.Column("evidence_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_path", sa.Text(), nullable=False),
        sa.Column("retention_until", sa.Date(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit_requests.visit_id"],
            name=op.f("fk_visit_evidence_visit_id_visit_requests"),
        ),
        sa.PrimaryKeyConstraint("evidence_id", name=op.f("pk_visit_evidence")),
    )
    op.create_index("ix_visit_evidence_visit_id", "visit_evidence", ["visit_id"])


def downgrade() -> None:
    op.drop_index("ix_visit_evidence_visit_id", table_name="visit_evidence")
    op.drop_table("visit_evidence")
    op.drop_table("visit_record_saves")
    op.drop_table("visit_records")
