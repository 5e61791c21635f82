"""Proposed actions for one business date: features → strategy → (gate) → proposals.

Features per borrower, from the store as of the end of ``as_of`` in the lender's zone:

- ``city`` and ``risk_score`` (``borrowers.attributes.risk_score``, may be missing);
- ``last_outcome``: the outcome of the latest contact attempt (null: never contacted);
- ``days_since_right_party_contact``: days from the latest right-party contact (null: never);
- ``promise_status`` of the latest promise to pay made on or before ``as_of`` (the
  ``promises`` table, settled by the daily cycle — ``services.promises``): ``open``, ``kept``,
  ``partly_kept`` or ``broken``; ``none`` without one. ``days_since_promise_broken`` counts
  from the first day after the missed date (1 on that day); ``days_to_promise`` is the next
  promised date of an open promise minus ``as_of``.

The statuses come from the caller (``jobs.actions``: the cycle's for ``as_of``; the strategy
editor's preview: the last cycle's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from arrears.adapters.db.desk_tables import contact_attempts
from arrears.adapters.db.tables import borrowers, loans
from arrears.domain.compliance import (
    HistoryEntry,
)
from arrears.domain.strategy import Arm
from arrears.engine.strategy import conform_features, evaluate_strategy
from arrears.services.access import BATCH_ACTOR, ContactPoint, contact_points
from arrears.services.contact_gate import events_by_borrower, past_attempt
from arrears.services.promises import promise_features
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


def _contact_features(
    conn: Connection, as_of: date, lender_tz: str, phones: Mapping[str, str | None]
) -> tuple[pa.Table, dict[str, list[HistoryEntry]]]:
    """Per borrower with contacts: last outcome, days since RPC, promise; and gate history
    (the contact attempts and the account events before the end of the day)."""
    zone = ZoneInfo(lender_tz)
    last: dict[str, tuple[str, date | None]] = {}
    cutoff = _end_of_day(as_of, lender_tz)
    history: dict[str, list[HistoryEntry]] = {
        b: list(events) for b, events in events_by_borrower(conn, cutoff).items()
    }
    for b, at, _, outcome, rpc, _next_on, channel, answered, by in _contacts(conn, cutoff):
        prev_rpc = last.get(b, ("", None))[1]
        last[b] = (outcome, _local_date(at, zone) if rpc else prev_rpc)
        past = past_attempt(channel, bool(answered), outcome, by, at, phones.get(b), lender_tz)
        if past is not None:
            history.setdefault(b, []).append(past)
    ids = sorted(last)
    rpc_days = [None if (d := last[b][1]) is None else (as_of - d).days for b in ids]
    base = pa.table(
        {
            "borrower_id": pa.array(ids, pa.string()),
            "last_outcome": pa.array([last[b][0] for b in ids], pa.string()),
            "days_since_right_party_contact": pa.array(rpc_days, pa.int32()),
        }
    )
    found = promise_features(conn, as_of)
    proms = pa.table(
        {
            "borrower_id": pa.array([f[0] for f in found], pa.string()),
            "promise_status": pa.array([f[1] for f in found], pa.string()),
            "days_since_promise_broken": pa.array([f[2] for f in found], pa.int32()),
            "days_to_promise": pa.array([f[3] for f in found], pa.int32()),
        }
    )
    return base.join(proms, "borrower_id", join_type="full outer"), history


def read_features(
    conn: Connection, as_of: date, lender_tz: str, now: datetime | None = None
) -> tuple[pa.Table, dict[str, list[HistoryEntry]], dict[str, dict[str, str]]]:
    """(features per borrower (FEATURE_SCHEMA), gate history per borrower, addresses per
    borrower and channel).

    The addresses come through the access service (one audit row; ``now`` defaults to the end
    of ``as_of``): the gate counts attempts and honours opt-outs per number or address."""
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
    addresses = {b_id: _addresses(p) for b_id, p in points.items()}
    return conform_features(joined), history, addresses


def _addresses(point: ContactPoint) -> dict[str, str]:
    """Channel → where a contact on it goes (the gate counts and opts out per address)."""
    found = {
        "sms": point.phone,
        "call": point.phone,
        "push": point.phone,
        "email": point.email,
        "letter": point.address,
        "visit": point.address,
    }
    return {channel: address for channel, address in found.items() if address}


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
    features, history, addresses = read_features(conn, as_of, lender_tz)
    status = status.join(_loan_products(conn), "loan_id", join_type="left outer")
    proposals = evaluate_strategy(arms, status, features, as_of, gap)
    if not gate:
        return ActionsResult(as_of, proposals, gated=False)
    judge = decide or compliance_decider(as_of, lender_tz, history, addresses)
    return ActionsResult(as_of, gate_table(proposals, judge), gated=True)
