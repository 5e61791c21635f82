"""Each assigned account's standing, kept on its assignment row.

A collector's work queue sorts and pages their accounts by worst DPD, amount due now, last
contact and next action. Computing those per request from ``status_history`` and
``contact_attempts`` costs a few thousand index probes for every page view of a 2,000-account
queue (~100 ms on the 1M-loan benchmark book); kept on ``account_assignments`` they are one
indexed read of the collector's own rows.

The figures are the same as the statuses of the last daily cycle (count of loans, worst DPD,
total due now) and the contact attempts (latest attempt, earliest next action). Whoever
changes one of their sources refreshes them in the same transaction:

- the daily cycle and the history backfill (``jobs.cycle``): every assigned account;
- assignment (``services.assignment``): the accounts just assigned;
- a logged contact (``services.desk.log_contact``): that account's contact columns;
- a payment posted through the API: that account, from its loans' live statuses
  (``set_live_standing``), so the queue shows the payment at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select, true, update

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t

__all__ = ["refresh_contact_standing", "refresh_standing", "set_live_standing"]

_CHUNK = 500


def _chunks(ids: Sequence[str] | None) -> Iterable[Sequence[str] | None]:
    if ids is None:
        yield None
        return
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]


def _among(column: Any, ids: Sequence[str] | None) -> ColumnElement[bool]:
    return true() if ids is None else column.in_(ids)


def refresh_standing(conn: Connection, borrower_ids: Sequence[str] | None = None) -> None:
    """Recompute the standing of the given assigned accounts (all when None)."""
    a, s = d.account_assignments, t.status_history
    as_of = conn.execute(select(func.max(s.c.as_of))).scalar()
    for ids in _chunks(borrower_ids):
        conn.execute(
            update(a)
            .where(_among(a.c.borrower_id, ids))
            .values(standing_as_of=as_of, loans=0, dpd=0, due_minor=0)
        )
        if as_of is not None:
            figures = (
                select(
                    s.c.borrower_id,
                    func.count().label("loans"),
                    func.max(s.c.dpd).label("dpd"),
                    func.sum(s.c.total_due_now_minor).label("due"),
                )
                .where(
                    s.c.as_of == as_of,
                    s.c.borrower_id.in_(
                        select(a.c.borrower_id).where(_among(a.c.borrower_id, ids))
                    ),
                )
                .group_by(s.c.borrower_id)
                .subquery()
            )
            conn.execute(
                update(a)
                .where(a.c.borrower_id == figures.c.borrower_id)
                .values(loans=figures.c.loans, dpd=figures.c.dpd, due_minor=figures.c.due)
            )
        _refresh_contacts(conn, ids)


def refresh_contact_standing(conn: Connection, borrower_id: str) -> None:
    """Recompute one account's last contact and next action (after a logged contact)."""
    _refresh_contacts(conn, [borrower_id])


def _refresh_contacts(conn: Connection, ids: Sequence[str] | None) -> None:
    a, c = d.account_assignments, d.contact_attempts
    conn.execute(
        update(a)
        .where(_among(a.c.borrower_id, ids))
        .values(last_contact_at=None, next_action_on=None)
    )
    figures = (
        select(
            c.c.borrower_id,
            func.max(c.c.at).label("last_at"),
            func.min(c.c.next_action_on).label("next_on"),
        )
        .where(c.c.borrower_id.in_(select(a.c.borrower_id).where(_among(a.c.borrower_id, ids))))
        .group_by(c.c.borrower_id)
        .subquery()
    )
    conn.execute(
        update(a)
        .where(a.c.borrower_id == figures.c.borrower_id)
        .values(last_contact_at=figures.c.last_at, next_action_on=figures.c.next_on)
    )


def set_live_standing(
    conn: Connection, borrower_id: str, statuses: Iterable[Mapping[str, Any]], as_of: date
) -> None:
    """The account's standing from its loans' statuses computed live at ``as_of`` (every loan
    of the borrower, as ``services.desk.live_status`` gives them)."""
    rows = list(statuses)
    conn.execute(
        update(d.account_assignments)
        .where(d.account_assignments.c.borrower_id == borrower_id)
        .values(
            standing_as_of=as_of,
            loans=len(rows),
            dpd=max((int(r["dpd"]) for r in rows), default=0),
            due_minor=sum(int(r["total_due_now_minor"]) for r in rows),
        )
    )
