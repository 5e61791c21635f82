"""The collector's desk: the work queue, the account view, notes and contact outcomes.

Borrower data comes only through ``arrears.services.access``; this module reads loans,
statuses and the desk's own tables. Statuses shown on an account are computed live from the
ledger with the engine (so a payment posted a minute ago counts), the queue sorts by the
last cycle's statuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache, lru_cache
from typing import Any

import pyarrow as pa
from sqlalchemy import Connection, Select, and_, bindparam, desc, exists, func, insert, select
from sqlalchemy.exc import IntegrityError

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import reads
from arrears.adapters.db import tables as t
from arrears.adapters.db.book_store import STORED_STATUS, read_book
from arrears.adapters.db.engine import savepoint
from arrears.domain.compliance import DEFAULT_LEXICON, screen_text
from arrears.domain.compliance.lexicon import X1_CATEGORIES
from arrears.domain.contacts import ANSWERED_OUTCOMES, Channel, ContactOutcome, DelinquencyReason
from arrears.domain.errors import Issue, ValidationError
from arrears.domain.people import Actor, Permission, may
from arrears.domain.products import ProductSettings
from arrears.engine.status import MONEY_COLUMNS, compute_status_table
from arrears.services.access import check_account, labelled_page
from arrears.services.audit import record
from arrears.services.plan_overlay import overlay_live
from arrears.services.standing import refresh_contact_standing, set_live_standing

__all__ = [
    "ContactInput",
    "QueueRow",
    "QueueSort",
    "add_note",
    "last_cycle_date",
    "live_status",
    "loans_of",
    "loans_with_cycled_status",
    "log_contact",
    "payments_of",
    "recent_contacts",
    "recent_notes",
    "schedules_of",
    "status_history_of",
    "work_queue_page",
]


class QueueSort(StrEnum):
    DPD = "dpd"
    AMOUNT = "amount"
    LAST_CONTACT = "last_contact"
    NEXT_ACTION = "next_action"


@dataclass(frozen=True, slots=True)
class QueueRow:
    borrower_id: str
    name: str | None  # masked
    city: str | None
    loans: int
    dpd: int
    bucket: str
    total_due_minor: int
    last_contact_at: datetime | None
    next_action_on: date | None


_LOAN_COLUMNS = (
    "loan_id",
    "product",
    "currency",
    "principal_minor",
    "annual_rate",
    "term_months",
    "start_date",
    "repayment_method",
)


def last_cycle_date(conn: Connection) -> date | None:
    value = conn.execute(select(func.max(t.status_history.c.as_of))).scalar()
    return value if isinstance(value, date) else None


def work_queue_page(
    conn: Connection,
    actor: Actor,
    sort: QueueSort = QueueSort.DPD,
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QueueRow], int, date | None]:
    """A page of the actor's work queue (sorted, masked names), the number of accounts and
    the last cycle's date, in one round trip: the names and cities are joined to the page
    (``access.labelled_page``), the count and the date ride on the page's rows as
    uncorrelated scalar subqueries (each evaluated once); a page past the end asks for them
    apart."""
    if actor.role is None or not may(actor.role, Permission.READ_ASSIGNED_ACCOUNTS):
        return [], 0, last_cycle_date(conn)
    labelled = labelled_page(
        conn,
        actor,
        _queue_statement(sort, descending),
        {"user_id": actor.user_id, "limit": limit, "offset": offset},
    )
    rows = [r for r, _, _ in labelled]
    if rows:
        total, as_of = int(rows[0]["total"]), rows[0]["as_of"]
    else:
        a = d.account_assignments
        total = conn.execute(
            select(func.count()).select_from(a).where(a.c.user_id == actor.user_id)
        ).scalar_one()
        as_of = last_cycle_date(conn)
    out = [
        QueueRow(
            r["borrower_id"],
            name,
            city,
            int(r["loans"]),
            int(r["dpd"]),
            _bucket_label(int(r["dpd"])),
            int(r["due_minor"]),
            r["last_contact_at"],
            r["next_action_on"],
        )
        for r, name, city in labelled
    ]
    return out, int(total), as_of if isinstance(as_of, date) else None


@cache
def _queue_statement(sort: QueueSort, descending: bool) -> Select[Any]:
    """The queue page's statement (built once per order; parameters: user_id, limit, offset)."""
    a = d.account_assignments
    key = {
        QueueSort.DPD: a.c.dpd,
        QueueSort.AMOUNT: a.c.due_minor,
        QueueSort.LAST_CONTACT: a.c.last_contact_at,
        QueueSort.NEXT_ACTION: a.c.next_action_on,
    }[sort]
    # Each order is one of account_assignments' queue indexes read forwards or backwards
    # (adapters.db.desk_tables): ties by account in the same direction; a missing last
    # contact is the earliest (never contacted: last when newest first), a missing next
    # action the latest (none planned: last when soonest first).
    if sort is QueueSort.LAST_CONTACT:
        order = [key.desc().nulls_last(), a.c.borrower_id.desc()]
        if not descending:
            order = [key.asc().nulls_first(), a.c.borrower_id.asc()]
    elif sort is QueueSort.NEXT_ACTION:
        order = [key.asc().nulls_last(), a.c.borrower_id.asc()]
        if descending:
            order = [key.desc().nulls_first(), a.c.borrower_id.desc()]
    else:  # NOT NULL columns: the plain orders match the index both ways
        order = [desc(key), a.c.borrower_id.desc()]
        if not descending:
            order = [key.asc(), a.c.borrower_id.asc()]
    # Own assignments are inside the scope of every role that has a queue.
    mine = a.c.user_id == bindparam("user_id")
    mine_all = d.account_assignments.alias("mine_all")
    total = (
        select(func.count())
        .select_from(mine_all)
        .where(mine_all.c.user_id == bindparam("user_id"))
        .scalar_subquery()
    )
    as_of = select(func.max(t.status_history.c.as_of)).scalar_subquery()
    return (
        select(
            a.c.borrower_id,
            a.c.loans,
            a.c.dpd,
            a.c.due_minor,
            a.c.last_contact_at,
            a.c.next_action_on,
            total.label("total"),
            as_of.label("as_of"),
            func.row_number().over(order_by=order).label("pos"),
        )
        .where(mine)
        .order_by(*order)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


def _bucket_label(dpd: int) -> str:
    # The queue's label only; statuses carry each product's own buckets.
    edges = ((0, "M0"), (30, "M1"), (60, "M2"), (90, "M3"), (120, "M4"), (150, "M5"), (180, "M6"))
    label = "M7+"
    for edge, name in edges:
        if dpd <= edge:
            label = name
            break
    return label


# The account view's reads are built once, with bound parameters, and reused: SQLAlchemy then
# skips building the statement and computing its cache key on every request (a statement
# made anew per call cost ~0.25 ms of CPU more than a reused one, per query).


@cache
def _loans_statement() -> Select[Any]:
    lo = t.loans
    return (
        select(*[lo.c[name] for name in _LOAN_COLUMNS])
        .where(lo.c.borrower_id == bindparam("borrower_id"))
        .order_by(lo.c.start_date, lo.c.loan_id)
    )


def loans_of(conn: Connection, borrower_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(_loans_statement(), {"borrower_id": borrower_id})
    return [dict(r._mapping) for r in rows]


_S = "s_"  # prefix of the status columns in ``loans_with_cycled_status``'s row


@cache
def _loans_cycled_statement() -> Select[Any]:
    """Parameters: borrower_id, as_of. ``_cycled_status``'s conditions as the outer join's."""
    s, lo, p, r = t.status_history, t.loans, t.payments, t.cycle_runs
    run_started = (
        select(func.max(r.c.started_at))
        .where(r.c.as_of == bindparam("as_of"), r.c.status == "done")
        .scalar_subquery()
    )
    fresh = and_(
        s.c.loan_id == lo.c.loan_id,
        s.c.as_of == bindparam("as_of"),
        lo.c.updated_at < run_started,
        ~exists().where(p.c.loan_id == lo.c.loan_id, p.c.created_at >= run_started),
    )
    return (
        select(
            *[lo.c[name] for name in _LOAN_COLUMNS],
            *[s.c[name].label(_S + name) for name in STORED_STATUS],
        )
        .select_from(lo.outerjoin(s, fresh))
        .where(lo.c.borrower_id == bindparam("borrower_id"))
        .order_by(lo.c.start_date, lo.c.loan_id)
    )


def loans_with_cycled_status(
    conn: Connection, borrower_id: str, as_of: date
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """:func:`loans_of` and, in the same query, the statuses that :func:`live_status` may read
    from the finished cycle of ``as_of`` (pass them as its ``cycled``)."""
    loans: list[dict[str, Any]] = []
    cycled: dict[str, dict[str, Any]] = {}
    width = len(_LOAN_COLUMNS)
    for row in reads.rows(
        conn, _loans_cycled_statement(), {"borrower_id": borrower_id, "as_of": as_of}
    ):
        loans.append(dict(zip(_LOAN_COLUMNS, row[:width], strict=True)))
        status = dict(zip(STORED_STATUS, row[width:], strict=True))
        if status["loan_id"] is not None:
            cycled[status["loan_id"]] = status
    return loans, cycled


def live_status(
    conn: Connection,
    loan_ids: list[str],
    as_of: date,
    products: Mapping[str, ProductSettings] | None = None,
    cycled: Mapping[str, dict[str, Any]] | None = None,
    known_plans: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each loan's status at ``as_of`` from the ledger as stored now (engine, same as the cycle).

    A loan that the finished cycle of ``as_of`` covered, and whose inputs (the loan, its
    payments) have not been written since that run started, has that status already: it is
    read from ``status_history`` (the usual case on the desk, after the morning's cycle). The
    others are computed from their ledger now. ``cycled``: those cycle statuses already
    read (:func:`loans_with_cycled_status`, in the same transaction); ``known_plans``:
    every plan of these loans, read in the same transaction (``plans.plans_of`` when it
    returned fewer than its limit) — no query for the plan overlay when none applies.
    """
    if not loan_ids:
        return {}
    if cycled is None:
        out = _cycled_status(conn, loan_ids, as_of)
    else:
        out = {i: dict(cycled[i]) for i in loan_ids if i in cycled}
    rest = [i for i in loan_ids if i not in out]
    if rest:
        table: pa.Table = compute_status_table(read_book(conn, rest), [as_of], products)
        # Money columns are int64 minor units; named as in the store (``…_minor``).
        table = table.rename_columns(
            [f"{c}_minor" if c in MONEY_COLUMNS else c for c in table.column_names]
        )
        out.update((row["loan_id"], row) for row in table.to_pylist())
    return overlay_live(
        conn, {i: out[i] for i in loan_ids if i in out}, as_of, products, known_plans
    )


@cache
def _cycled_statement() -> Select[Any]:
    """Parameters: as_of, loan_ids (a list)."""
    s, lo, p, r = t.status_history, t.loans, t.payments, t.cycle_runs
    run_started = (
        select(func.max(r.c.started_at))
        .where(r.c.as_of == bindparam("as_of"), r.c.status == "done")
        .scalar_subquery()
    )
    return (
        select(*[s.c[name] for name in STORED_STATUS])
        .join(lo, lo.c.loan_id == s.c.loan_id)
        .where(
            s.c.as_of == bindparam("as_of"),
            s.c.loan_id.in_(bindparam("loan_ids", expanding=True)),
            lo.c.updated_at < run_started,
            ~exists().where(p.c.loan_id == s.c.loan_id, p.c.created_at >= run_started),
        )
    )


def _cycled_status(conn: Connection, loan_ids: list[str], as_of: date) -> dict[str, dict[str, Any]]:
    rows = conn.execute(_cycled_statement(), {"as_of": as_of, "loan_ids": list(loan_ids)})
    return {row.loan_id: dict(row._mapping) for row in rows}


def status_after_payment(
    conn: Connection,
    borrower_id: str,
    as_of: date,
    products: Mapping[str, ProductSettings] | None = None,
) -> dict[str, dict[str, Any]]:
    """Live statuses of the borrower's loans after a payment; the account's standing on its
    assignment (the work queue) follows at once."""
    ids = [lo["loan_id"] for lo in loans_of(conn, borrower_id)]
    status = live_status(conn, ids, as_of, products)
    set_live_standing(conn, borrower_id, status.values(), as_of)
    return status


def schedules_of(
    conn: Connection, status: Mapping[str, Mapping[str, Any]], as_of: date
) -> dict[str, list[dict[str, Any]]]:
    """Each loan's installments with what is paid, overdue or still to come at ``as_of``.

    ``status`` maps loan id to its status (``live_status``). What the waterfall has covered of
    the installments due so far is their sum less the overdue principal and interest; it is
    shown against them oldest first. One query for all the loans.
    """
    if not status:
        return {}
    rows = conn.execute(_schedules_statement(), {"loan_ids": list(status)})
    return _by_loan_marked((dict(r._mapping) for r in rows), status, as_of)


def _by_loan_marked(
    rows: Iterable[dict[str, Any]], status: Mapping[str, Mapping[str, Any]], as_of: date
) -> dict[str, list[dict[str, Any]]]:
    """Installment rows (in loan and sequence order) grouped by the loans of ``status``,
    each marked paid, partly paid, overdue or upcoming."""
    out: dict[str, list[dict[str, Any]]] = {loan_id: [] for loan_id in status}
    for r in rows:
        mine = out.get(r["loan_id"])
        if mine is not None:
            mine.append(r)
    for loan_id, mine in out.items():
        _mark_paid(mine, status[loan_id], as_of)
    return out


def account_view_prefetch(
    conn: Connection, borrower_id: str, as_of: date, since: date, plan_rows: int
) -> AbstractContextManager[None]:
    """The account view's reads after the borrower's, run together (``reads.prefetched``):
    inside the block the functions below read their results instead of asking again."""
    return reads.prefetched(conn, _account_view_reads(borrower_id, as_of, since, plan_rows))


def _account_view_reads(
    borrower_id: str, as_of: date, since: date, plan_rows: int
) -> list[reads.Read]:
    """The account view's reads after the borrower's: exactly the
    statements and parameters that :func:`loans_with_cycled_status`, ``plans.plans_of``,
    :func:`account_schedules`, :func:`account_payments`, :func:`status_history_of`,
    :func:`recent_notes`, :func:`recent_contacts` and ``promises.promises_of`` run with
    their defaults (a read that differs is simply not prefetched)."""
    from arrears.services import plans, promises

    one = {"borrower_id": borrower_id}
    return [
        (_loans_cycled_statement(), {**one, "as_of": as_of}),
        (plans._plans_of_statement(), {**one, "limit": plan_rows}),
        (_account_schedules_statement(), one),
        (_account_payments_statement(100), one),
        (_history_statement(True), {**one, "since": since}),
        (_notes_statement(50), one),
        (_contacts_statement(50), one),
        (promises._promises_statement(50), one),
    ]


def account_schedules(
    conn: Connection, borrower_id: str, status: Mapping[str, Mapping[str, Any]], as_of: date
) -> dict[str, list[dict[str, Any]]]:
    """:func:`schedules_of` for the loans of ``status``, all of them the account's: one
    statement by account (no list of loan ids to expand), through ``reads``."""
    if not status:
        return {}
    rows = reads.dicts(conn, _account_schedules_statement(), {"borrower_id": borrower_id})
    return _by_loan_marked(rows, status, as_of)


def _installments() -> Select[Any]:
    i = t.installments
    return select(
        i.c.loan_id, i.c.seq, i.c.due_date, i.c.principal_minor, i.c.interest_minor
    ).order_by(i.c.loan_id, i.c.seq)


@cache
def _account_schedules_statement() -> Select[Any]:
    i, lo = t.installments, t.loans
    return (
        _installments()
        .join(lo, lo.c.loan_id == i.c.loan_id)
        .where(lo.c.borrower_id == bindparam("borrower_id"))
    )


@cache
def _schedules_statement() -> Select[Any]:
    i = t.installments
    return _installments().where(i.c.loan_id.in_(bindparam("loan_ids", expanding=True)))


def _mark_paid(rows: list[dict[str, Any]], status: Mapping[str, Any], as_of: date) -> None:
    due_total = sum(
        r["principal_minor"] + r["interest_minor"] for r in rows if r["due_date"] <= as_of
    )
    overdue = int(status.get("overdue_principal_minor", 0)) + int(
        status.get("overdue_interest_minor", 0)
    )
    covered = due_total - overdue
    for r in rows:
        amount = r["principal_minor"] + r["interest_minor"]
        r["amount_minor"] = amount
        if r["due_date"] > as_of:
            r["paid_minor"], r["state"] = 0, "upcoming"
            continue
        paid = min(amount, max(covered, 0))
        covered -= paid
        r["paid_minor"] = paid
        r["state"] = "paid" if paid == amount else ("partly_paid" if paid else "overdue")


def _payments(limit: int) -> Select[Any]:
    p = t.payments
    return (
        select(p.c.payment_id, p.c.loan_id, p.c.paid_at, p.c.paid_on, p.c.amount_minor, p.c.channel)
        .order_by(p.c.paid_at.desc(), p.c.payment_id.desc())
        .limit(limit)
    )


@lru_cache(maxsize=32)
def _payments_statement(limit: int) -> Select[Any]:
    return _payments(limit).where(t.payments.c.loan_id.in_(bindparam("loan_ids", expanding=True)))


def account_payments(conn: Connection, borrower_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """:func:`payments_of` for all the account's loans: one statement by account."""
    return reads.dicts(conn, _account_payments_statement(limit), {"borrower_id": borrower_id})


@lru_cache(maxsize=32)
def _account_payments_statement(limit: int) -> Select[Any]:
    p, lo = t.payments, t.loans
    return (
        _payments(limit)
        .join(lo, lo.c.loan_id == p.c.loan_id)
        .where(lo.c.borrower_id == bindparam("borrower_id"))
    )


def payments_of(conn: Connection, loan_ids: list[str], limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(_payments_statement(limit), {"loan_ids": list(loan_ids)})
    return [dict(r._mapping) for r in rows]


def status_history_of(
    conn: Connection, borrower_id: str, since: date | None = None
) -> list[dict[str, Any]]:
    """Per cycle date: the account's worst DPD, its bucket and what was due (for the chart)."""
    params: dict[str, Any] = {"borrower_id": borrower_id}
    if since is not None:
        params["since"] = since
    return [
        {"as_of": as_of, "dpd": int(dpd), "bucket": _bucket_label(int(dpd)), "due": int(due)}
        for as_of, dpd, due in reads.rows(conn, _history_statement(since is not None), params)
    ]


@cache
def _history_statement(since: bool) -> Select[Any]:
    s = t.status_history
    conds = [s.c.borrower_id == bindparam("borrower_id")]
    if since:
        conds.append(s.c.as_of >= bindparam("since"))
    return (
        select(
            s.c.as_of,
            func.max(s.c.dpd).label("dpd"),
            func.sum(s.c.total_due_now_minor).label("due"),
        )
        .where(and_(*conds))
        .group_by(s.c.as_of)
        .order_by(s.c.as_of)
    )


@lru_cache(maxsize=32)
def _notes_statement(limit: int) -> Select[Any]:
    n = d.notes
    return (
        select(n.c.note_id, n.c.loan_id, n.c.author, n.c.body, n.c.created_at, n.c.flagged)
        .where(n.c.borrower_id == bindparam("borrower_id"))
        .order_by(n.c.created_at.desc(), n.c.note_id.desc())
        .limit(limit)
    )


def recent_notes(conn: Connection, borrower_id: str, limit: int = 50) -> list[dict[str, Any]]:
    return reads.dicts(conn, _notes_statement(limit), {"borrower_id": borrower_id})


def flagged_notes(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """The newest notes that CN-X1 screening flagged, for compliance."""
    n = d.notes
    rows = conn.execute(
        select(n.c.note_id, n.c.borrower_id, n.c.author, n.c.body, n.c.created_at, n.c.flagged)
        .where(n.c.flagged.is_not(None))
        .order_by(n.c.created_at.desc(), n.c.note_id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


@lru_cache(maxsize=32)
def _contacts_statement(limit: int) -> Select[Any]:
    c = d.contact_attempts
    return (
        select(c)
        .where(c.c.borrower_id == bindparam("borrower_id"))
        .order_by(c.c.at.desc(), c.c.attempt_id.desc())
        .limit(limit)
    )


def recent_contacts(conn: Connection, borrower_id: str, limit: int = 50) -> list[dict[str, Any]]:
    return reads.dicts(conn, _contacts_statement(limit), {"borrower_id": borrower_id})


def _loan_of(conn: Connection, borrower_id: str, loan_id: str | None) -> None:
    if loan_id is None:
        return
    owner = conn.execute(select(t.loans.c.borrower_id).where(t.loans.c.loan_id == loan_id)).scalar()
    if owner != borrower_id:
        raise ValidationError(
            [Issue("request", None, "loan_id", f"{loan_id} is not this account's")]
        )


def add_note(
    conn: Connection,
    actor: Actor,
    borrower_id: str,
    body: str,
    now: datetime,
    loan_id: str | None = None,
) -> int:
    check_account(conn, actor, borrower_id)
    body = body.strip()
    if not body:
        raise ValidationError([Issue("note", None, "body", "write something")])
    if len(body) > 4000:
        raise ValidationError([Issue("note", None, "body", "at most 4000 characters")])
    _loan_of(conn, borrower_id, loan_id)
    # CN-X1: a note with prohibited language is kept (it is what was written) and flagged
    # to compliance with the lexicon's categories and version.
    hits = [h for h in screen_text(body, DEFAULT_LEXICON) if h.category in X1_CATEGORIES]
    flagged = " ".join(sorted({h.category.value for h in hits})) or None
    result = conn.execute(
        insert(d.notes).values(
            borrower_id=borrower_id,
            loan_id=loan_id,
            author=actor.name,
            body=body,
            created_at=now,
            flagged=flagged,
        )
    )
    note_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    detail: dict[str, Any] = {"note_id": note_id}
    if hits:
        detail |= {
            "flagged": flagged,
            "terms": sorted({h.term for h in hits}),
            "lexicon": DEFAULT_LEXICON.version,
        }
    record(conn, actor, "add_note", "borrower", borrower_id, now, detail=detail)
    return note_id


@dataclass(frozen=True, slots=True)
class ContactInput:
    outcome: ContactOutcome
    channel: Channel = Channel.PHONE
    right_party: bool = False
    reason: DelinquencyReason | None = None
    next_action_on: date | None = None
    remark: str | None = None
    loan_id: str | None = None
    at: datetime | None = None  # when it happened (a dialer says); default now
    external_id: str | None = None


def _known_contact(
    conn: Connection, actor: Actor, borrower_id: str, external_id: str
) -> int | None:
    c = d.contact_attempts
    known = conn.execute(
        select(c.c.attempt_id, c.c.borrower_id).where(
            c.c.recorded_by == actor.name, c.c.external_id == external_id
        )
    ).first()
    if known is None:
        return None
    if known.borrower_id != borrower_id:
        raise ValidationError(
            [Issue("contact", None, "external_id", "already used for another account")]
        )
    return int(known.attempt_id)


def log_contact(
    conn: Connection, actor: Actor, borrower_id: str, contact: ContactInput, now: datetime
) -> tuple[int, bool]:
    """Record a contact attempt: (attempt id, created). A repeated ``external_id`` is one row."""
    check_account(conn, actor, borrower_id)
    answered = contact.outcome in ANSWERED_OUTCOMES
    if contact.right_party and not answered:
        raise ValidationError(
            [Issue("contact", None, "right_party", "a right-party contact needs an answered call")]
        )
    if contact.at is not None and contact.at.tzinfo is None:
        raise ValidationError([Issue("contact", None, "at", "give a time-zone offset")])
    if contact.remark and len(contact.remark) > 2000:
        raise ValidationError([Issue("contact", None, "remark", "at most 2000 characters")])
    _loan_of(conn, borrower_id, contact.loan_id)
    c = d.contact_attempts
    if contact.external_id:
        known = _known_contact(conn, actor, borrower_id, contact.external_id)
        if known is not None:
            return known, False
    row = insert(c).values(
        borrower_id=borrower_id,
        loan_id=contact.loan_id,
        channel=contact.channel.value,
        answered=answered,
        right_party=contact.right_party,
        outcome=contact.outcome.value,
        delinquency_reason=contact.reason.value if contact.reason else None,
        next_action_on=contact.next_action_on,
        remark=(contact.remark or "").strip() or None,
        recorded_by=actor.name,
        external_id=contact.external_id,
        at=contact.at or now,
        created_at=now,
    )
    try:
        with savepoint(conn):
            result = conn.execute(row)
    except IntegrityError:
        # The same external id posted concurrently: the other request's row stands.
        known = (
            _known_contact(conn, actor, borrower_id, contact.external_id)
            if contact.external_id
            else None
        )
        if known is None:
            raise
        return known, False
    attempt_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    refresh_contact_standing(conn, borrower_id)
    record(
        conn,
        actor,
        "log_contact",
        "borrower",
        borrower_id,
        now,
        detail={"attempt_id": attempt_id, "outcome": contact.outcome.value},
    )
    return attempt_id, True
