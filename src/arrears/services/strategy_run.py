"""Proposed actions for one business date: features → strategy → (gate) → proposals.

Features per borrower, from the store as of the end of ``as_of`` in the lender's zone:

- ``city`` and ``risk_score`` (``borrowers.attributes.risk_score``, may be missing);
- ``last_outcome``: the outcome of the latest contact attempt (null: never contacted);
- ``days_since_right_party_contact``: days from the latest right-party contact (null: never);
- ``promise_status`` from the latest ``promise_to_pay`` attempt, promised for
  ``next_action_on`` (the attempt's own date when empty): ``kept`` when a payment on any of
  the borrower's loans is dated from the promise through the promised date, else ``open``
  until the promised date, else ``broken`` (``days_since_promise_broken`` = as_of − promised
  date); ``none`` without a promise. Any payment counts (promised amounts are not recorded).

The statuses come from the caller (``jobs.actions``: the cycle's for ``as_of``; the strategy
editor's preview: the last cycle's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from arrears.adapters.db.desk_tables import contact_attempts
from arrears.adapters.db.tables import borrowers, loans, payments
from arrears.domain.compliance import (
    HistoryEntry,
)
from arrears.domain.contacts import ContactOutcome
from arrears.domain.strategy import Arm
from arrears.engine.strategy import conform_features, evaluate_strategy
from arrears.services.access import BATCH_ACTOR, contact_points
from arrears.services.contact_gate import events_by_borrower, past_attempt
from arrears.services.strategy_gate import Decide, compliance_decider, gate_table

__all__ = ["ActionsResult", "propose_from_status", "read_features"]


@dataclass(frozen=True, slots=True)
class ActionsResult:
    as_of: date
    proposals: pa.Table  # PROPOSAL_SCHEMA, plus allowed/blocked_by/gate_reason when gated
    gated: bool

    def counts(self, *keys: str) -> list[tuple[tuple[str, ...], int]]:
        """Proposals per combination of the given columns, most frequent first."""
        if self.proposals.num_rows == 0:
            return []
        grouped = self.proposals.group_by(list(keys)).aggregate([([], "count_all")])
        rows = zip(
            *(grouped[k].to_pylist() for k in keys), grouped["count_all"].to_pylist(), strict=True
        )
        out = [(tuple(str(v) for v in r[:-1]), int(r[-1])) for r in rows]
        return sorted(out, key=lambda kv: (-kv[1], kv[0]))


def _end_of_day(as_of: date, lender_tz: str) -> datetime:
    return datetime.combine(as_of + timedelta(days=1), time(0), ZoneInfo(lender_tz))


def _local_date(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def _contacts(conn: Connection, cutoff: datetime) -> list[tuple[Any, ...]]:
    c = contact_attempts.c
    return [
        tuple(r)
        for r in conn.execute(
            sa.select(
                c.borrower_id,
                c.at,
                c.attempt_id,
                c.outcome,
                c.right_party,
                c.next_action_on,
                c.channel,
                c.answered,
                c.recorded_by,
            )
            .where(c.at < cutoff)
            .order_by(c.borrower_id, c.at, c.attempt_id)
        )
    ]


def _payment_days(conn: Connection, ids: Sequence[str], as_of: date) -> pa.Table:
    q = (
        sa.select(loans.c.borrower_id, payments.c.paid_on)
        .join_from(payments, loans, payments.c.loan_id == loans.c.loan_id)
        .where(payments.c.paid_on <= as_of, loans.c.borrower_id.in_(list(ids)))
    )
    rows = conn.execute(q).all()
    return pa.table(
        {
            "borrower_id": pa.array([r[0] for r in rows], pa.string()),
            "paid_on": pa.array([r[1] for r in rows], pa.date32()),
        }
    )


def _contact_features(
    conn: Connection, as_of: date, lender_tz: str, phones: Mapping[str, str | None]
) -> tuple[pa.Table, dict[str, list[HistoryEntry]]]:
    """Per borrower with contacts: last outcome, days since RPC, promise; and gate history
    (the contact attempts and the account events before the end of the day)."""
    zone = ZoneInfo(lender_tz)
    last: dict[str, tuple[str, date | None, tuple[date, date] | None]] = {}
    cutoff = _end_of_day(as_of, lender_tz)
    history: dict[str, list[HistoryEntry]] = {
        b: list(events) for b, events in events_by_borrower(conn, cutoff).items()
    }
    for b, at, _, outcome, rpc, promised, channel, answered, by in _contacts(conn, cutoff):
        _, prev_rpc, promise = last.get(b, ("", None, None))
        day = _local_date(at, zone)
        if outcome == ContactOutcome.PROMISE_TO_PAY:
            promise = (day, promised or day)
        last[b] = (outcome, day if rpc else prev_rpc, promise)
        past = past_attempt(channel, bool(answered), outcome, by, at, phones.get(b), lender_tz)
        if past is not None:
            history.setdefault(b, []).append(past)
    ids = sorted(last)
    proms = [(b, p) for b in ids if (p := last[b][2]) is not None]
    promises = pa.table(
        {
            "borrower_id": pa.array([b for b, _ in proms], pa.string()),
            "made_on": pa.array([p[0] for _, p in proms], pa.date32()),
            "promised_on": pa.array([p[1] for _, p in proms], pa.date32()),
        }
    )
    paid = _payment_days(conn, [b for b, _ in proms], as_of)
    status = _promise_status(promises, paid, as_of)
    rpc_days = [None if (d := last[b][1]) is None else (as_of - d).days for b in ids]
    base = pa.table(
        {
            "borrower_id": pa.array(ids, pa.string()),
            "last_outcome": pa.array([last[b][0] for b in ids], pa.string()),
            "days_since_right_party_contact": pa.array(rpc_days, pa.int32()),
        }
    )
    return base.join(status, "borrower_id", join_type="left outer"), history


def _promise_status(promises: pa.Table, paid: pa.Table, as_of: date) -> pa.Table:
    con = duckdb.connect()
    try:
        con.register("promises", promises)
        con.register("paid", paid)
        return con.sql(
            f"""
            SELECT p.borrower_id,
                   CASE WHEN EXISTS (SELECT 1 FROM paid x WHERE x.borrower_id = p.borrower_id
                                     AND x.paid_on BETWEEN p.made_on AND p.promised_on)
                        THEN 'kept'
                        WHEN p.promised_on >= DATE '{as_of.isoformat()}' THEN 'open'
                        ELSE 'broken' END AS promise_status,
                   CAST(CASE WHEN p.promised_on < DATE '{as_of.isoformat()}' AND NOT EXISTS (
                       SELECT 1 FROM paid x WHERE x.borrower_id = p.borrower_id
                       AND x.paid_on BETWEEN p.made_on AND p.promised_on)
                       THEN DATE '{as_of.isoformat()}' - p.promised_on END AS INTEGER)
                       AS days_since_promise_broken
            FROM promises p
            """  # noqa: S608 - an ISO date only
        ).to_arrow_table()
    finally:
        con.close()


def read_features(
    conn: Connection, as_of: date, lender_tz: str, now: datetime | None = None
) -> tuple[pa.Table, dict[str, list[HistoryEntry]], dict[str, str]]:
    """(features per borrower (FEATURE_SCHEMA), gate history per borrower, phone per borrower).

    The phones come through the access service (one audit row; ``now`` defaults to the end
    of ``as_of``): the gate counts attempts per number."""
    b = borrowers.c
    rows = conn.execute(
        sa.select(b.borrower_id, b.city, b.attributes["risk_score"].as_float())
    ).all()
    points = contact_points(
        conn, BATCH_ACTOR, None, now or _end_of_day(as_of, lender_tz), "strategy_features"
    )
    people = pa.table(
        {
            "borrower_id": pa.array([r[0] for r in rows], pa.string()),
            "city": pa.array([r[1] for r in rows], pa.string()),
            "risk_score": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
    phones = {b_id: p.phone for b_id, p in points.items() if p.phone}
    contacts, history = _contact_features(conn, as_of, lender_tz, phones)
    joined = people.join(contacts, "borrower_id", join_type="left outer")
    return conform_features(joined), history, phones


def _loan_products(conn: Connection) -> pa.Table:
    rows = conn.execute(sa.select(loans.c.loan_id, loans.c.product)).all()
    return pa.table(
        {
            "loan_id": pa.array([r[0] for r in rows], pa.string()),
            "product": pa.array([r[1] for r in rows], pa.string()),
        }
    )


def propose_from_status(
    conn: Connection,
    status: pa.Table,
    as_of: date,
    arms: Sequence[Arm],
    lender_tz: str,
    gate: bool = True,
    decide: Decide | None = None,
    gap: int = 1,
) -> ActionsResult:
    """Proposals from the day's ``status`` table; gated by ``decide`` (default: the CN
    compliance gate) if ``gate``."""
    features, history, phones = read_features(conn, as_of, lender_tz)
    status = status.join(_loan_products(conn), "loan_id", join_type="left outer")
    proposals = evaluate_strategy(arms, status, features, as_of, gap)
    if not gate:
        return ActionsResult(as_of, proposals, gated=False)
    judge = decide or compliance_decider(as_of, lender_tz, history, phones)
    return ActionsResult(as_of, gate_table(proposals, judge), gated=True)
