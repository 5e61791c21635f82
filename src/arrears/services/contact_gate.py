"""The compliance gate over the store: an account's history as the gate reads it, and a
decision taken and recorded for a contact someone is about to make.

Every decision is written to ``compliance_decisions`` (append-only) with its pack and version,
the attempt and the answer, so that an auditor can replay it with ``arrears compliance
explain``. The desk asks before a call (``check_call``); the daily batch asks for each
proposed action.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import Connection, insert, select

from arrears.adapters.db import compliance_tables as ct
from arrears.adapters.db import desk_tables as d
from arrears.domain.compliance import (
    Actor,
    ActorKind,
    Attempt,
    Channel,
    ClockWindow,
    Decision,
    EventKind,
    HistoryEntry,
    Outcome,
    Pack,
    PastAttempt,
    Purpose,
    StateEvent,
    Target,
    TargetKind,
    decide,
)
from arrears.domain.contacts import ANSWERED_OUTCOMES, ContactOutcome
from arrears.domain.people import Actor as Person
from arrears.services.access import check_account, contact_points

__all__ = [
    "GateAnswer",
    "check_call",
    "events_by_borrower",
    "history_of",
    "past_attempt",
    "record_decision",
    "record_decisions",
    "state_event",
]

# The desk's contact channels as the gate names them.
_CHANNELS = {
    "phone": Channel.CALL,
    "sms": Channel.SMS,
    "email": Channel.EMAIL,
    "visit": Channel.VISIT,
    "letter": Channel.LETTER,
}
_FAILED = {ContactOutcome.WRONG_NUMBER.value}


def _outcome(answered: bool, outcome: str) -> Outcome:
    if outcome in _FAILED:
        return Outcome.FAILED
    if answered or outcome in ANSWERED_OUTCOMES:
        return Outcome.ANSWERED
    return Outcome.UNANSWERED


def _actor_of(recorded_by: str) -> Actor:
    if recorded_by.startswith("token:"):
        return Actor(ActorKind.SYSTEM, recorded_by)
    return Actor(ActorKind.COLLECTOR, recorded_by)


def history_of(
    conn: Connection, borrower_id: str, phone: str | None, zone: str | None
) -> list[HistoryEntry]:
    """The account's past contact attempts and state events, as the gate reads them.

    Desk attempts record no number: they were made to the borrower's phone (``phone``).
    """
    c, e = d.contact_attempts, ct.account_events
    out: list[HistoryEntry] = []
    for r in conn.execute(
        select(c.c.channel, c.c.answered, c.c.outcome, c.c.recorded_by, c.c.at).where(
            c.c.borrower_id == borrower_id
        )
    ):
        past = past_attempt(
            r.channel, bool(r.answered), r.outcome, r.recorded_by, r.at, phone, zone
        )
        if past is not None:
            out.append(past)
    out.extend(
        state_event(r._mapping)
        for r in conn.execute(select(e).where(e.c.borrower_id == borrower_id))
    )
    return out


def past_attempt(
    channel: str,
    answered: bool,
    outcome: str,
    recorded_by: str,
    at: datetime,
    phone: str | None,
    zone: str | None,
) -> PastAttempt | None:
    """A desk contact attempt as the gate reads it (None for a channel the gate does not
    count). Desk attempts were made to the borrower's phone."""
    gate_channel = _CHANNELS.get(channel)
    if gate_channel is None:
        return None
    return PastAttempt(
        channel=gate_channel,
        target=Target(TargetKind.BORROWER, phone or "", timezone=zone),
        at=at,
        outcome=_outcome(answered, outcome),
        actor=_actor_of(recorded_by),
        purpose=Purpose.COLLECTION,
    )


def events_by_borrower(conn: Connection, before: datetime) -> dict[str, list[StateEvent]]:
    """Every account's state events that took effect before ``before`` (for the daily batch)."""
    e = ct.account_events
    out: dict[str, list[StateEvent]] = {}
    for r in conn.execute(select(e).where(e.c.at < before)):
        out.setdefault(r.borrower_id, []).append(state_event(r._mapping))
    return out


def state_event(m: Any) -> StateEvent:
    """An ``account_events`` row as the gate reads it."""
    window = (
        ClockWindow(m["window_start"], m["window_end"])
        if isinstance(m["window_start"], time) and isinstance(m["window_end"], time)
        else None
    )
    scope = tuple(Channel(s) for s in (m["scope"] or "").split() if s)
    return StateEvent(
        kind=EventKind(m["kind"]),
        at=m["at"],
        channel=Channel(m["channel"]) if m["channel"] else None,
        address=m["address"],
        scope=scope,
        window=window,
        until=m["until"],
        agency=m["agency"],
    )


def record_decision(
    conn: Connection,
    decision: Decision,
    attempt: Attempt,
    borrower_id: str | None,
    now: datetime,
) -> int:
    """Store ``decision`` (append-only); its id."""
    return record_decisions(conn, [(decision, attempt, borrower_id)], now)[0]


def record_decisions(
    conn: Connection,
    decided: Sequence[tuple[Decision, Attempt, str | None]],
    now: datetime,
) -> list[int]:
    """Store many decisions in one statement (append-only); their ids, in the given order."""
    if not decided:
        return []
    cd = _decisions_table()
    rows = [_decision_row(d, a, b, now) for d, a, b in decided]
    result = conn.execute(
        insert(cd).returning(cd.c.decision_id, sort_by_parameter_order=True), rows
    )
    return [int(r[0]) for r in result]


def _decision_row(
    decision: Decision, attempt: Attempt, borrower_id: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "decided_at": now,
        "pack": decision.pack_id,
        "pack_version": decision.pack_version,
        "overridden": decision.overridden,
        "channel": attempt.channel.value,
        "purpose": attempt.purpose.value,
        "borrower_id": borrower_id,
        "target_kind": attempt.target.kind.value,
        "actor": attempt.actor.id or attempt.actor.kind.value,
        "allowed": decision.allowed,
        "rules": list(decision.rules),
        "blocked_by": list(decision.blocked_by),
        "reasons": dict(decision.reasons),
        "next_allowed_at": decision.next_allowed_at,
        "duties": [
            {"rule": x.rule, "duty": x.code, "en": x.en, "zh-CN": x.zh} for x in decision.duties
        ],
        "attempt": _attempt_json(attempt),
    }


def _decisions_table() -> Any:
    return ct.gate_decisions


def _attempt_json(attempt: Attempt) -> dict[str, Any]:
    """The attempt as ``arrears compliance explain`` reads it (docs/compliance.md)."""
    target: dict[str, Any] = {
        "kind": attempt.target.kind.value,
        "address": attempt.target.address,
    }
    if attempt.target.relation:
        target["relation"] = attempt.target.relation
    if attempt.target.timezone:
        target["timezone"] = attempt.target.timezone
    actor: dict[str, Any] = {"kind": attempt.actor.kind.value}
    if attempt.actor.id:
        actor["id"] = attempt.actor.id
    if attempt.actor.agency:
        actor["agency"] = attempt.actor.agency
    out: dict[str, Any] = {
        "pack": attempt.pack,
        "channel": attempt.channel.value,
        "purpose": attempt.purpose.value,
        "target": target,
        "at": attempt.at.isoformat(),
        "actor": actor,
    }
    if attempt.text is not None:
        out["text"] = attempt.text
    if attempt.staff is not None:
        out["staff"] = list(attempt.staff)
    return out


@dataclass(frozen=True, slots=True)
class GateAnswer:
    decision: Decision
    decision_id: int
    attempt: Attempt


def check_call(
    conn: Connection,
    person: Person,
    borrower_id: str,
    now: datetime,
    pack: Pack,
    zone: str | None,
    holds: Sequence[StateEvent] = (),
) -> GateAnswer:
    """May ``person`` call the borrower now? Asked when a collector clicks "call"; decided,
    recorded and returned. The account must be in the person's scope (else NotFound)."""
    check_account(conn, person, borrower_id)
    point = contact_points(conn, person, [borrower_id], now, "call_check").get(borrower_id)
    phone = point.phone if point else None
    attempt = Attempt(
        pack=pack.pack_id,
        channel=Channel.CALL,
        purpose=Purpose.COLLECTION,
        target=Target(TargetKind.BORROWER, phone or "", timezone=zone),
        at=now,
        actor=Actor(ActorKind.COLLECTOR, person.name),
    )
    decision = decide(attempt, history_of(conn, borrower_id, phone, zone), pack, holds)
    return GateAnswer(decision, record_decision(conn, decision, attempt, borrower_id, now), attempt)


@dataclass(frozen=True, slots=True)
class DecisionRow:
    decision_id: int
    decided_at: datetime
    channel: str
    purpose: str
    borrower_id: str | None
    actor: str
    allowed: bool
    rules: list[str]
    blocked_by: list[str]
    reasons: dict[str, str]
    next_allowed_at: datetime | None
    duties: list[dict[str, str]]
    pack: str
    pack_version: str
    attempt: dict[str, Any]


def _row(m: Any) -> DecisionRow:
    rules = list(m["rules"] or [])
    duties = list(m["duties"] or [])
    blocked = list(m["blocked_by"] or [])
    return DecisionRow(
        decision_id=int(m["decision_id"]),
        decided_at=m["decided_at"],
        channel=m["channel"],
        purpose=m["purpose"],
        borrower_id=m["borrower_id"],
        actor=m["actor"],
        allowed=bool(m["allowed"]),
        rules=rules,
        blocked_by=blocked,
        reasons=dict(m["reasons"] or {}),
        next_allowed_at=m["next_allowed_at"],
        duties=duties,
        pack=m["pack"],
        pack_version=m["pack_version"],
        attempt=dict(m["attempt"] or {}),
    )


def list_decisions(
    conn: Connection,
    *,
    borrower_id: str | None = None,
    allowed: bool | None = None,
    rule: str | None = None,
    limit: int = 50,
    offset: int = 0,
    scan: int = 20_000,
) -> tuple[list[DecisionRow], dict[str, int], int]:
    """The newest decisions matching the filter (a page of them), the count of blocked
    decisions per blocking rule, and how many matched — over the newest ``scan`` decisions
    (rules are a JSON list, filtered here rather than in SQL, the same on both stores)."""
    cd = _decisions_table()
    q = select(cd).order_by(cd.c.decision_id.desc()).limit(scan)
    if borrower_id:
        q = q.where(cd.c.borrower_id == borrower_id)
    if allowed is not None:
        q = q.where(cd.c.allowed.is_(allowed))
    rows = [_row(r._mapping) for r in conn.execute(q)]
    if rule:
        rows = [r for r in rows if rule in r.rules]
    by_rule: dict[str, int] = {}
    for r in rows:
        for b in r.blocked_by:
            by_rule[b] = by_rule.get(b, 0) + 1
    ordered = dict(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0])))
    return rows[offset : offset + limit], ordered, len(rows)


def decision_detail(conn: Connection, decision_id: int) -> DecisionRow | None:
    cd = _decisions_table()
    found = conn.execute(select(cd).where(cd.c.decision_id == decision_id)).first()
    return None if found is None else _row(found._mapping)
