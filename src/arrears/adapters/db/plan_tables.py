"""Negotiation: repayment plans (issue 5) and their events.

A plan is one loan's ``PlanTerms`` (``arrears.domain.negotiation``) stored as plain data
(``terms_to_data``), with its life cycle: proposed (``pending_approval`` or, within the
proposer's own limits, ``approved``), decided by an approver (``approved`` | ``rejected``),
accepted by the borrower (``active``), then settled by the daily cycle (``kept`` →
``completed``, or ``broken``); ``cancelled`` by hand. ``plan_events`` keeps what happened to
it, one row per kind and date (the cycle's monitor events and the life-cycle steps), so a
re-run of a day adds nothing (``services.plans``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from arrears.adapters.db.tables import ID, Attributes, UTCDateTime, metadata

__all__ = ["plan_events", "plans"]

plans = Table(
    "plans",
    metadata,
    Column("plan_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", ID, ForeignKey("loans.loan_id"), nullable=False),
    Column("kind", String(16), nullable=False),  # instalment | deferral | settlement | restructure
    # pending_approval | approved | rejected | active | kept | completed | broken | cancelled
    Column("status", String(20), nullable=False),
    Column("terms", Attributes, nullable=False),  # terms_to_data(PlanTerms)
    Column("start_on", Date, nullable=False),  # D: the snapshot is the end of D - 1
    Column("payable_minor", BigInteger, nullable=False),  # the plan instalments in all
    Column("waived_minor", BigInteger, nullable=False),  # the waiver (or settlement discount)
    Column("income_expenditure", Attributes),  # the form it was proposed with, if any
    Column("proposed_by", String(64), nullable=False),
    Column("proposed_role", String(16), nullable=False),
    Column("proposed_at", UTCDateTime(), nullable=False),
    Column("approval_required", Boolean, nullable=False),
    Column("approval_reasons", Text),  # "CODE: English text" lines (the proposer's limits)
    Column("decided_by", String(64)),
    Column("decided_at", UTCDateTime()),
    Column("decision_reason", Text),
    Column("accepted_at", UTCDateTime()),
    Column("accepted_how", String(16)),  # signed_paper | recorded_call | sms_code | in_app
    Column("acceptance_reference", String(200)),
    Column("accepted_recorded_by", String(64)),
    Column("agreement_sha256", String(64)),  # of the last agreement PDF handed out
    Column("paid_minor", BigInteger, nullable=False, server_default="0"),  # since start_on
    Column("next_due_on", Date),  # the next unpaid plan instalment (while active)
    Column("last_evaluated_on", Date),
    Column("settled_on", Date),  # when it stopped being active (kept/completed/broken/…)
    Index("ix_plans_borrower_id", "borrower_id"),
    Index("ix_plans_loan_id", "loan_id"),
    Index("ix_plans_status", "status"),
)

plan_events = Table(
    "plan_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", Integer, ForeignKey("plans.plan_id"), nullable=False),
    # proposed | approved | rejected | accepted | cancelled | plan_kept | plan_completed |
    # plan_broken | waiver_written_off | waiver_reinstated
    Column("kind", String(32), nullable=False),
    Column("on", Date, nullable=False),  # the business date it happened (the monitor's date)
    Column("amount_minor", BigInteger, nullable=False, server_default="0"),
    Column("detail", Attributes, nullable=False, default=dict),
    Column("recorded_at", UTCDateTime(), nullable=False),
    UniqueConstraint("plan_id", "kind", "on"),
    Index("ix_plan_events_plan_id", "plan_id"),
)
