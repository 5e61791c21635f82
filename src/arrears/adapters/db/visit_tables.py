"""Door visits (issue 6), the planning part: field teams, visit requests, locked routes and
the day plans (``services.visits``). The visit record itself (start, outcome, evidence) is in
``visit_record_tables``.

A visit request is open while its status is ``requested`` (waiting for a plan; when the last
plan could not fit it, ``planned_day`` is that day and ``unplanned_reason`` says why) or
``planned`` (``planned_day``, ``team_id``, ``seq`` and the planned times set). Times of day
(``window_*``, ``shift_*``) are lender-local wall-clock times; instants are UTC."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    true,
)

from arrears.adapters.db.tables import ID, ExactDecimal, UTCDateTime, metadata

__all__ = ["day_plans", "field_team_members", "field_teams", "route_locks", "visit_requests"]

field_teams = Table(
    "field_teams",
    metadata,
    Column("team_id", String(32), primary_key=True),  # e.g. "T1"
    Column("name", String(64), nullable=False),
    Column("home_label", Text, nullable=False),  # the home branch: routes start and end there
    Column("home_latitude", ExactDecimal(), nullable=False),
    Column("home_longitude", ExactDecimal(), nullable=False),
    Column("shift_start", Time, nullable=False),  # local
    Column("shift_end", Time, nullable=False),
    Column("capacity", Integer, nullable=False),  # visits per day
    Column("territory", Text, nullable=False, server_default=""),  # "," separated; "" anywhere
    Column("active", Boolean, nullable=False, server_default=true()),
    Column("created_at", UTCDateTime(), nullable=False),
)

field_team_members = Table(
    "field_team_members",
    metadata,
    Column("team_id", String(32), ForeignKey("field_teams.team_id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), primary_key=True),
    Index("ix_field_team_members_user_id", "user_id"),
)

visit_requests = Table(
    "visit_requests",
    metadata,
    Column("visit_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", ID, ForeignKey("loans.loan_id")),
    Column("source", String(16), nullable=False),  # strategy | broken_promise | manual
    Column("reason", Text, nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("priority_minor", BigInteger, nullable=False),
    Column("window_start", Time),  # the borrower's stated availability; None: visiting hours
    Column("window_end", Time),
    Column("duration_min", Integer, nullable=False, server_default="45"),
    Column("pinned_team", String(32), ForeignKey("field_teams.team_id")),
    # requested | planned | started | done | cancelled
    Column("status", String(16), nullable=False),
    Column("planned_day", Date),
    Column("team_id", String(32), ForeignKey("field_teams.team_id")),
    Column("seq", Integer),
    Column("planned_start", UTCDateTime()),
    Column("planned_end", UTCDateTime()),
    Column("unplanned_reason", String(64)),
    Column("schedule_decision_id", Integer, ForeignKey("gate_decisions.decision_id")),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_visit_requests_borrower_id", "borrower_id"),
    Index("ix_visit_requests_status", "status"),
    Index("ix_visit_requests_planned_day_team_id", "planned_day", "team_id"),
)

route_locks = Table(
    "route_locks",
    metadata,
    Column("planned_day", Date, primary_key=True),
    Column("team_id", String(32), ForeignKey("field_teams.team_id"), primary_key=True),
    Column("locked_by", String(64), nullable=False),
    Column("locked_at", UTCDateTime(), nullable=False),
)

day_plans = Table(
    "day_plans",
    metadata,
    Column("planned_day", Date, primary_key=True),
    Column("team_id", String(32), ForeignKey("field_teams.team_id"), primary_key=True),
    Column("planned_at", UTCDateTime(), nullable=False),
    Column("planned_by", String(64), nullable=False),
    Column("distance_m", Integer, nullable=False),
    Column("svg", Text, nullable=False),  # the route map (domain.routing.route_svg)
    Column("solver_seconds", Float, nullable=False),
)
