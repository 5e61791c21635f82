"""Promises to pay: recorded by a collector (desk or field) or a dialer, settled by the cycle.

A promise is one or more (date, amount) items for an account — one loan, or all the
account's loans when no loan is named. Payments on those loans from the day the promise was
made count toward it. The daily cycle (``settle_promises``) settles each open promise with
``arrears.domain.negotiation.promises``: **kept** when the payments cover the promised total
within the product's tolerance, **partly kept** or **broken** (nothing paid) once an item's
date has passed uncovered. A new promise for an account supersedes its open one (which is
cancelled). Broken and partly kept promises are what the strategy's ``promise_broken`` anchor
acts on; every settlement is written to the audit log by the batch actor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, case, func, insert, select, update

from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import reads
from arrears.adapters.db import tables as t
from arrears.domain.contacts import Channel
from arrears.domain.errors import Issue, ValidationError
from arrears.domain.money import to_minor
from arrears.domain.negotiation.promises import PromiseTolerance, evaluate_promise
from arrears.domain.people import Actor
from arrears.domain.products import ProductSettings
from arrears.domain.strategy import PromiseStatus
from arrears.services.access import BATCH_ACTOR, check_account
from arrears.services.audit import record
from arrears.services.plans import (
    merge_plan_features,
    next_plan_instalments,
    plan_features,
)

__all__ = [
    "MAX_ITEMS",
    "MAX_PROMISE_DAYS",
    "PromiseInput",
    "PromisedBy",
    "collector_promise_stats",
    "next_promised",
    "parse_items",
    "promises_of",
    "record_promise",
    "settle_promises",
]

MAX_ITEMS = 12
CANCELLED = "cancelled"  # superseded by a newer promise
MAX_PROMISE_DAYS = 90  # the last promised date at most this many days after it is made


class PromisedBy(StrEnum):
    BORROWER = "borrower"
    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    RELATIVE = "relative"
    GUARANTOR = "guarantor"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class PromiseInput:
    items: tuple[tuple[date, Decimal], ...]  # (date, amount), ascending dates
    channel: Channel = Channel.PHONE
    promised_by: PromisedBy = PromisedBy.BORROWER
    loan_id: str | None = None
    note: str | None = None
    attempt_id: int | None = None


def parse_items(
    pairs: Sequence[tuple[str, str]], where: str = "form"
) -> list[tuple[date, Decimal]]:
    """(date text, amount text) pairs from a form or a request → items; empty pairs skipped."""
    issues: list[Issue] = []
    items: list[tuple[date, Decimal]] = []
    for i, (day_text, amount_text) in enumerate(pairs, start=1):
        if not day_text.strip() and not amount_text.strip():
            continue
        try:
            day = date.fromisoformat(day_text.strip())
        except ValueError:
            issues.append(Issue(where, i, "date", f"not a date (YYYY-MM-DD): {day_text!r}"))
            continue
        try:
            amount = Decimal(amount_text.strip().replace(",", ""))
        except InvalidOperation:
            issues.append(Issue(where, i, "amount", f"not an amount: {amount_text!r}"))
            continue
        items.append((day, amount))
    if issues:
        raise ValidationError(issues)
    return items


def _validate(p: PromiseInput, made_on: date) -> list[Issue]:
    issues: list[Issue] = []
    if not p.items:
        issues.append(Issue("promise", None, "items", "promise at least one amount on a date"))
    if len(p.items) > MAX_ITEMS:
        issues.append(Issue("promise", None, "items", f"at most {MAX_ITEMS} dates"))
    last: date | None = None
    for i, (day, amount) in enumerate(p.items, start=1):
        if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            issues.append(
                Issue("promise", i, "amount", "a positive amount with at most 2 decimals")
            )
        if day < made_on:
            issues.append(Issue("promise", i, "date", f"{day} is before today ({made_on})"))
        elif day > made_on + timedelta(days=MAX_PROMISE_DAYS):
            issues.append(
                Issue("promise", i, "date", f"more than {MAX_PROMISE_DAYS} days ahead: {day}")
            )
        if last is not None and day <= last:
            issues.append(Issue("promise", i, "date", "dates must be in increasing order"))
        last = day
    if p.note and len(p.note) > 2000:
        issues.append(Issue("promise", None, "note", "at most 2000 characters"))
    return issues


def _product_of(
    conn: Connection, borrower_id: str, loan_id: str | None, products: Mapping[str, ProductSettings]
) -> ProductSettings:
    lo = t.loans.c
    q = select(lo.loan_id, lo.product, lo.borrower_id).where(lo.borrower_id == borrower_id)
    rows = conn.execute(q.order_by(lo.loan_id)).all()
    if loan_id is not None and loan_id not in {r.loan_id for r in rows}:
        raise ValidationError(
            [Issue("promise", None, "loan_id", f"{loan_id} is not this account's")]
        )
    chosen = next((r for r in rows if r.loan_id == loan_id), rows[0] if rows else None)
    code = chosen.product if chosen is not None else None
    return products.get(code or "default") or products.get("default") or ProductSettings()


def record_promise(
    conn: Connection,
    actor: Actor,
    borrower_id: str,
    promise: PromiseInput,
    now: datetime,
    made_on: date,
    products: Mapping[str, ProductSettings],
) -> int:
    """Store a promise (scope checked, validated, audited); the account's open promise, if
    any, is cancelled. ``made_on`` is the lender-local business date of ``now``."""
    check_account(conn, actor, borrower_id)
    issues = _validate(promise, made_on)
    if issues:
        raise ValidationError(issues)
    product = _product_of(conn, borrower_id, promise.loan_id, products)
    total = sum((a for _, a in promise.items), Decimal(0))
    tolerance = max(product.promise_tolerance, (total * product.promise_tolerance_pct / 100))
    p = nt.promises.c
    superseded = [
        int(r[0])
        for r in conn.execute(
            select(p.promise_id).where(p.borrower_id == borrower_id, p.status == "open")
        )
    ]
    if superseded:
        conn.execute(
            update(nt.promises)
            .where(p.promise_id.in_(superseded))
            .values(status=CANCELLED, settled_on=made_on)
        )
    result = conn.execute(
        insert(nt.promises).values(
            borrower_id=borrower_id,
            loan_id=promise.loan_id,
            channel=promise.channel.value,
            promised_by=promise.promised_by.value,
            attempt_id=promise.attempt_id,
            made_on=made_on,
            total_minor=to_minor(total),
            tolerance_minor=to_minor(tolerance.quantize(Decimal("0.01"))),
            status=PromiseStatus.OPEN.value,
            note=(promise.note or "").strip() or None,
            recorded_by=actor.name,
            created_at=now,
        )
    )
    promise_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    conn.execute(
        insert(nt.promise_items),
        [
            {"promise_id": promise_id, "seq": i, "due_on": day, "amount_minor": to_minor(amount)}
            for i, (day, amount) in enumerate(promise.items, start=1)
        ],
    )
    record(
        conn,
        actor,
        "record_promise",
        "borrower",
        borrower_id,
        now,
        detail={
            "promise_id": promise_id,
            "total": str(total),
            "dates": [d.isoformat() for d, _ in promise.items],
            "superseded": superseded,
        },
    )
    return promise_id


def _items(conn: Connection, ids: Sequence[int]) -> dict[int, list[tuple[date, int]]]:
    i = nt.promise_items.c
    out: dict[int, list[tuple[date, int]]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        for r in conn.execute(
            select(i.promise_id, i.due_on, i.amount_minor)
            .where(i.promise_id.in_(chunk))
            .order_by(i.promise_id, i.seq)
        ):
            out.setdefault(int(r.promise_id), []).append((r.due_on, int(r.amount_minor)))
    return out


@lru_cache(maxsize=32)
def _promises_statement(limit: int) -> Select[Any]:
    """Built once per limit (parameter: borrower_id); the account view runs it each time."""
    p = nt.promises.c
    return (
        select(nt.promises)
        .where(p.borrower_id == bindparam("borrower_id"))
        .order_by(p.created_at.desc(), p.promise_id.desc())
        .limit(limit)
    )


def promises_of(conn: Connection, borrower_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The account's promises, newest first, each with its items (caller checked scope)."""
    rows = reads.dicts(conn, _promises_statement(limit), {"borrower_id": borrower_id})
    items = _items(conn, [r["promise_id"] for r in rows])
    for r in rows:
        r["items"] = items.get(r["promise_id"], [])
    return rows


def _payments(
    conn: Connection, promises: Sequence[Any], as_of: date
) -> dict[int, list[tuple[date, int]]]:
    """Per promise: the payments (date, minor) on its loans from its day through ``as_of``."""
    borrowers = sorted({r.borrower_id for r in promises})
    lo, pay = t.loans.c, t.payments.c
    by_borrower: dict[str, list[tuple[str, date, int]]] = {}
    for start in range(0, len(borrowers), 500):
        chunk = borrowers[start : start + 500]
        q = (
            select(lo.borrower_id, pay.loan_id, pay.paid_on, pay.amount_minor)
            .join(t.loans, lo.loan_id == pay.loan_id)
            .where(lo.borrower_id.in_(chunk), pay.paid_on <= as_of)
        )
        for r in conn.execute(q):
            by_borrower.setdefault(r.borrower_id, []).append(
                (r.loan_id, r.paid_on, int(r.amount_minor))
            )
    out: dict[int, list[tuple[date, int]]] = {}
    for pr in promises:
        out[int(pr.promise_id)] = sorted(
            (day, amount)
            for loan, day, amount in by_borrower.get(pr.borrower_id, [])
            if day >= pr.made_on and (pr.loan_id is None or loan == pr.loan_id)
        )
    return out


def _money(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-2)


def settle_promises(conn: Connection, as_of: date, now: datetime) -> dict[str, int]:
    """Settle the open promises as of the end of ``as_of`` (run by the daily cycle):
    counts by new state. Idempotent: a settled promise is not looked at again."""
    p = nt.promises.c
    open_rows = conn.execute(
        select(nt.promises).where(p.status == PromiseStatus.OPEN.value, p.made_on <= as_of)
    ).all()
    if not open_rows:
        return {}
    items = _items(conn, [int(r.promise_id) for r in open_rows])
    paid = _payments(conn, open_rows, as_of)
    counts: dict[str, int] = {}
    for r in open_rows:
        pid = int(r.promise_id)
        result = evaluate_promise(
            [(d, _money(m)) for d, m in items.get(pid, [])],
            [(d, _money(m)) for d, m in paid.get(pid, [])],
            as_of,
            made_on=r.made_on,
            tolerance=PromiseTolerance(absolute=_money(int(r.tolerance_minor))),
        )
        state = result.status
        values: dict[str, Any] = {"paid_minor": to_minor(result.paid)}
        if state is not PromiseStatus.OPEN:
            values |= {"status": state.value, "settled_on": result.decided_on}
            counts[state.value] = counts.get(state.value, 0) + 1
            record(
                conn,
                BATCH_ACTOR,
                f"promise_{state.value}",
                "borrower",
                r.borrower_id,
                now,
                detail={"promise_id": pid, "paid": str(result.paid), "as_of": as_of.isoformat()},
            )
        if values["paid_minor"] != r.paid_minor or "status" in values:
            conn.execute(update(nt.promises).where(p.promise_id == pid).values(**values))
    return counts


def collector_promise_stats(
    conn: Connection, since: date, recorded_by: str | None = None
) -> list[dict[str, Any]]:
    """Per collector, promises made on or after ``since``: counts by state, amount promised
    and paid toward them, and the kept rate (kept ÷ settled, partly kept not counted kept)."""
    params: dict[str, Any] = {"since": since}
    if recorded_by is not None:
        params["recorded_by"] = recorded_by
    out = []
    for row in reads.dicts(conn, _promise_stats_statement(recorded_by is not None), params):
        settled = int(row["kept"] or 0) + int(row["partly_kept"] or 0) + int(row["broken"] or 0)
        row["kept_rate"] = None if settled == 0 else int(row["kept"] or 0) / settled
        out.append(row)
    return out


@lru_cache(maxsize=2)
def _promise_stats_statement(one_collector: bool) -> Select[Any]:
    """Built once (parameters: since, and recorded_by for one collector): the work queue
    runs it on every page."""
    p = nt.promises.c

    def n(state: str) -> Any:
        return func.sum(case((p.status == state, 1), else_=0))

    q = (
        select(
            p.recorded_by,
            func.count().label("made"),
            n("open").label("open"),
            n("kept").label("kept"),
            n("partly_kept").label("partly_kept"),
            n("broken").label("broken"),
            func.sum(p.total_minor).label("promised_minor"),
            func.sum(p.paid_minor).label("paid_minor"),
        )
        .where(p.made_on >= bindparam("since"), p.status != "cancelled")
        .group_by(p.recorded_by)
        .order_by(p.recorded_by)
    )
    if one_collector:
        q = q.where(p.recorded_by == bindparam("recorded_by"))
    return q


def next_promised(conn: Connection, borrower_ids: Sequence[str]) -> dict[str, tuple[date, int]]:
    """Per borrower with an open promise: (its next uncovered date, minor units still to pay
    through that date) — what a promise reminder says. An active repayment plan wins (its
    next instalment, ``services.plans.next_plan_instalments``), as in ``promise_features``."""
    p = nt.promises.c
    out: dict[str, tuple[date, int]] = {}
    for start in range(0, len(borrower_ids), 500):
        chunk = list(borrower_ids[start : start + 500])
        rows = conn.execute(
            select(p.promise_id, p.borrower_id, p.paid_minor).where(
                p.borrower_id.in_(chunk), p.status == PromiseStatus.OPEN.value
            )
        ).all()
        items = _items(conn, [int(r.promise_id) for r in rows])
        for r in rows:
            covered = 0
            for day, amount in items.get(int(r.promise_id), []):
                covered += amount
                if covered > int(r.paid_minor):
                    out[r.borrower_id] = (day, covered - int(r.paid_minor))
                    break
    out.update(next_plan_instalments(conn, list(borrower_ids)))
    return out


def promise_features(
    conn: Connection, as_of: date
) -> list[tuple[str, str, int | None, int | None]]:
    """Per borrower with a promise made on or before ``as_of`` (the latest not cancelled):
    (borrower_id, promise_status as of ``as_of``, days_since_promise_broken, days_to_promise)
    — the strategy's promise features. A repayment plan counts as an arrangement too
    (``services.plans.merge_plan_features``): an active plan is ``open`` with the days to its
    next unpaid instalment, a broken plan ``broken`` from the day it broke unless a promise
    was made after that."""
    p = nt.promises.c
    latest = (
        select(p.borrower_id, func.max(p.promise_id).label("promise_id"))
        .where(p.made_on <= as_of, p.status != CANCELLED)
        .group_by(p.borrower_id)
        .subquery()
    )
    rows = conn.execute(
        select(p.promise_id, p.borrower_id, p.status, p.settled_on, p.paid_minor, p.made_on).join(
            latest, latest.c.promise_id == p.promise_id
        )
    ).all()
    still_open = [
        int(r.promise_id)
        for r in rows
        if r.status == PromiseStatus.OPEN.value or (r.settled_on and r.settled_on > as_of)
    ]
    items = _items(conn, still_open)
    out: list[tuple[str, str, int | None, int | None]] = []
    for r in rows:
        pid = int(r.promise_id)
        if pid in items:
            covered, next_day = 0, None
            for day, amount in items[pid]:
                covered += amount
                if covered > int(r.paid_minor):
                    next_day = day
                    break
            out.append(
                (r.borrower_id, "open", None, None if next_day is None else (next_day - as_of).days)
            )
        elif r.status in (PromiseStatus.BROKEN.value, PromiseStatus.PARTLY_KEPT.value):
            out.append((r.borrower_id, r.status, (as_of - r.settled_on).days, None))
        else:
            out.append((r.borrower_id, r.status, None, None))
    made_on = {r.borrower_id: r.made_on for r in rows}
    return merge_plan_features(out, made_on, plan_features(conn, as_of), as_of)
