"""door visits: field teams, visit requests, route locks, day plans

Revision ID: 0010v
Revises: 0009p
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.adapters.db.tables

revision: str = "0010v"
down_revision: str | None = "0009p"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = arrears.adapters.db.tables.UTCDateTime(timezone=True)
_DEC = arrears.adapters.db.tables.ExactDecimal


def upgrade() -> None:
    op.create_table(
        "field_teams",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("home_label", sa.Text(), nullable=False),
        sa.Column("home_latitude", _DEC(), nullable=False),
        sa.Column("home_longitude", _DEC(), nullable=False),
        sa.Column("shift_start", sa.Time(), nullable=False),
        sa.Column("shift_end", sa.Time(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("territory", sa.Text(), server_default="", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_field_teams")),
    )
    op.create_table(
        "field_team_members",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["field_teams.team_id"],
            name=op.f("fk_field_team_members_team_id_field_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name=op.f("fk_field_team_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_field_team_members")),
    )
    op.create_index("ix_field_team_members_user_id", "field_team_members", ["user_id"])
    op.create_table(
        "visit_requests",
        sa.Column("visit_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("borrower_id", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", _TS, nullable=False),
        sa.Column("priority_minor", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=True),
        sa.Column("window_end", sa.Time(), nullable=True),
        sa.Column("duration_min", sa.Integer(), server_default="45", nullable=False),
        sa.Column("pinned_team", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("planned_day", sa.Date(), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("planned_start", _TS, nullable=True),
        sa.Column("planned_end", _TS, nullable=True),
        sa.Column("unplanned_reason", sa.String(length=64), nullable=True),
        sa.Column("schedule_decision_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"],
            ["borrowers.borrower_id"],
            name=op.f("fk_visit_requests_borrower_id_borrowers"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.loan_id"], name=op.f("fk_visit_requests_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["pinned_team"],
            ["field_teams.team_id"],
            name=op.f("fk_visit_requests_pinned_team_field_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["field_teams.team_id"], name=op.f("fk_visit_requests_team_id_field_teams")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_decision_id"],
            ["gate_decisions.decision_id"],
            name=op.f("fk_visit_requests_schedule_decision_id_gate_decisions"),
        ),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_visit_requests")),
    )
    op.create_index("ix_visit_requests_borrower_id", "visit_requests", ["borrower_id"])
    op.create_index("ix_visit_requests_status", "visit_requests", ["status"])
    op.create_index(
        "ix_visit_requests_planned_day_team_id", "visit_requests", ["planned_day", "team_id"]
    )
    op.create_table(
        "route_locks",
        sa.Column("planned_day", sa.Date(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("locked_by", sa.String(length=64), nullable=False),
        sa.Column("locked_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["field_teams.team_id"], name=op.f("fk_route_locks_team_id_field_teams")
        ),
        sa.PrimaryKeyConstraint("planned_day", "team_id", name=op.f("pk_route_locks")),
    )
    op.create_table(
        "day_plans",
        sa.Column("planned_day", sa.Date(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("planned_at", _TS, nullable=False),
        sa.Column("planned_by", sa.String(length=64), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=False),
        sa.Column("svg", sa.Text(), nullable=False),
        sa.Column("solver_seconds", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["field_teams.team_id"], name=op.f("fk_day_plans_team_id_field_teams")
        ),
        sa.PrimaryKeyConstraint("planned_day", "team_id", name=op.f("pk_day_plans")),
    )


def downgrade() -> None:
    op.drop_table("day_plans")
    op.drop_table("route_locks")
    op.drop_index("ix_visit_requests_planned_day_team_id", table_name="visit_requests")
    op.drop_index("ix_visit_requests_status", table_name="visit_requests")
    op.drop_index("ix_visit_requests_borrower_id", table_name="visit_requests")
    op.drop_table("visit_requests")
    op.drop_index("ix_field_team_members_user_id", table_name="field_team_members")
    op.drop_table("field_team_members")
    op.drop_table("field_teams")
