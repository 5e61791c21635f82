"""Who works which account: by hand, or by rule (bucket, city, load balancing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, delete, func, insert, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.errors import Issue, ValidationError
from arrears.domain.people import Actor, Role
from arrears.services.audit import record
from arrears.services.standing import refresh_standing

__all__ = ["AssignmentRule", "RuleResult", "assign_accounts", "assign_by_rule"]

_WORKERS = (Role.COLLECTOR.value, Role.FIELD_AGENT.value)


class AssignmentRule(StrEnum):
    MANUAL = "manual"
    BALANCE = "balance"  # spread evenly by workload
    BUCKET = "bucket"  # accounts whose worst bucket is given
    CITY = "city"  # accounts in a city


@dataclass(frozen=True, slots=True)
class RuleResult:
    assigned: int
    per_user: dict[str, int]


def _check_workers(conn: Connection, user_ids: Sequence[int]) -> dict[int, str]:
    rows = conn.execute(
        select(d.users.c.user_id, d.users.c.username).where(
            d.users.c.user_id.in_(user_ids),
            d.users.c.role.in_(_WORKERS),
            d.users.c.active.is_(True),
        )
    ).all()
    found = {int(r.user_id): str(r.username) for r in rows}
    missing = [u for u in user_ids if u not in found]
    if missing or not user_ids:
        raise ValidationError(
            [
                Issue("assignment", None, "user_id", f"not an active collector or field agent: {u}")
                for u in missing
            ]
            or [Issue("assignment", None, "user_id", "choose at least one collector")]
        )
    return found


def _write(
    conn: Connection,
    pairs: list[tuple[str, int]],
    actor: Actor,
    rule: AssignmentRule,
    now: datetime,
) -> None:
    ids = [b for b, _ in pairs]
    for start in range(0, len(ids), 5000):
        conn.execute(
            delete(d.account_assignments).where(
                d.account_assignments.c.borrower_id.in_(ids[start : start + 5000])
            )
        )
    rows = [
        {
            "borrower_id": b,
            "user_id": u,
            "assigned_at": now,
            "assigned_by": actor.name,
            "rule": rule.value,
        }
        for b, u in pairs
    ]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(d.account_assignments), rows[start : start + 5000])
    refresh_standing(conn, ids)


def assign_accounts(
    conn: Connection, actor: Actor, borrower_ids: Sequence[str], user_id: int, now: datetime
) -> int:
    """Give ``borrower_ids`` to one collector (by hand)."""
    names = _check_workers(conn, [user_id])
    known = {
        r[0]
        for r in conn.execute(
            select(t.borrowers.c.borrower_id).where(
                t.borrowers.c.borrower_id.in_(list(borrower_ids))
            )
        )
    }
    unknown = [b for b in borrower_ids if b not in known]
    if unknown:
        raise ValidationError(
            [Issue("assignment", None, "borrower_id", f"no account {b}") for b in unknown[:50]],
            total=len(unknown),
        )
    _write(conn, [(b, user_id) for b in borrower_ids], actor, AssignmentRule.MANUAL, now)
    record(
        conn,
        actor,
        "assign",
        "user",
        names[user_id],
        now,
        detail={
            "rule": "manual",
            "accounts": len(borrower_ids),
            "borrower_ids": list(borrower_ids)[:100],
        },
    )
    return len(borrower_ids)


def assign_by_rule(
    conn: Connection,
    actor: Actor,
    rule: AssignmentRule,
    user_ids: Sequence[int],
    now: datetime,
    bucket: str | None = None,
    city: str | None = None,
    only_unassigned: bool = False,
) -> RuleResult:
    """Spread the matching accounts over ``user_ids``, fewest current accounts first.

    Matching: accounts with a balance at the last cycle (not paid off); for ``bucket``, those
    whose worst loan is in that bucket; for ``city``, those in that city.
    """
    names = _check_workers(conn, user_ids)
    s = t.status_history
    as_of = conn.execute(select(func.max(s.c.as_of))).scalar()
    if as_of is None:
        raise ValidationError(
            [Issue("assignment", None, None, "no statuses yet: run the daily cycle")]
        )
    # Each account's worst loan (highest DPD; ties by loan id): its bucket is the account's.
    ranked = (
        select(
            s.c.borrower_id,
            s.c.dpd,
            s.c.bucket,
            func.row_number()
            .over(partition_by=s.c.borrower_id, order_by=(s.c.dpd.desc(), s.c.loan_id))
            .label("rank"),
        )
        .where(s.c.as_of == as_of, s.c.paid_off.is_(False))
        .subquery()
    )
    worst = (
        select(ranked.c.borrower_id, ranked.c.dpd, ranked.c.bucket)
        .where(ranked.c.rank == 1)
        .subquery()
    )
    q = select(worst.c.borrower_id, worst.c.dpd)
    if rule is AssignmentRule.BUCKET:
        if not bucket:
            raise ValidationError([Issue("assignment", None, "bucket", "choose a bucket")])
        q = q.where(worst.c.bucket == bucket)
    if rule is AssignmentRule.CITY:
        if not city:
            raise ValidationError([Issue("assignment", None, "city", "choose a city")])
        q = q.join(t.borrowers, t.borrowers.c.borrower_id == worst.c.borrower_id).where(
            t.borrowers.c.city == city
        )
    if only_unassigned:
        q = q.where(worst.c.borrower_id.not_in(select(d.account_assignments.c.borrower_id)))
    accounts = [
        r.borrower_id for r in conn.execute(q.order_by(worst.c.dpd.desc(), worst.c.borrower_id))
    ]
    a = d.account_assignments
    # Each collector's load, not counting the accounts about to be (re)assigned.
    load = {
        int(r.user_id): int(r.n)
        for r in conn.execute(
            select(a.c.user_id, func.count().label("n"))
            .where(
                a.c.user_id.in_(list(user_ids)),
                a.c.borrower_id.not_in(q.with_only_columns(worst.c.borrower_id)),
            )
            .group_by(a.c.user_id)
        )
    }
    pairs = []
    counts = {u: load.get(u, 0) for u in user_ids}
    for b in accounts:
        u = min(user_ids, key=lambda k: (counts[k], k))
        pairs.append((b, u))
        counts[u] += 1
    _write(conn, pairs, actor, rule, now)
    per_user = {names[u]: sum(1 for _, v in pairs if v == u) for u in user_ids}
    record(
        conn,
        actor,
        "assign",
        "rule",
        rule.value,
        now,
        detail={
            "rule": rule.value,
            "bucket": bucket,
            "city": city,
            "accounts": len(pairs),
            "per_user": per_user,
        },
    )
    return RuleResult(len(pairs), per_user)
