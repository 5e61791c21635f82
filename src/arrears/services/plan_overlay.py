"""The plan overlay on stored and live statuses (docs/negotiation.md, "The ledger and a plan").

The ledger and the engine replay each loan's contract; a repayment plan lives beside it
(``services.plans``). For a loan under a plan the figures that count are the plan monitor's:
:func:`arrears.domain.negotiation.overlay.overlay_status` turns the contract's status fields,
the plan's terms and its evaluation into the status under the plan. This module applies it:

- :func:`apply_plan_overlay` — the daily cycle (``jobs.cycle.run_cycle``), right after
  ``settle_plans``: the rows of ``as_of`` in ``status_history`` of the loans under a plan get
  the plan's figures, ``plan_overlay`` (what was done and the contract's replaced values) and
  ``quiet_until = NULL``, so the next cycle replays those loans from their history instead of
  advancing them arithmetically from a row that is not the engine's (the engine's state
  columns are left as they were). The overlaid accounts' standing (the work queues) is
  refreshed;
- :func:`overlay_live` — the account view (``services.desk.live_status``): the same overlay
  on statuses read from the cycle or computed live.

Which plan applies to a loan: its most recently accepted plan (``accepted_at``) that started
by ``as_of`` and is ``active``, ``kept``, ``completed`` or ``broken`` — the domain decides
from its evaluation as of that day (a broken plan that is not a restructure leaves the
contract's figures; a cancelled plan is never applied).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from arrears.adapters.db import plan_tables as pt
from arrears.adapters.db import tables as t
from arrears.adapters.db.book_store import STORED_STATUS
from arrears.domain.money import from_minor, to_minor
from arrears.domain.negotiation import PlanTerms, evaluate_plan, terms_from_data
from arrears.domain.negotiation.overlay import Overlay, StatusFields, overlay_status
from arrears.domain.products import Classification, ProductSettings
from arrears.services.standing import refresh_standing

__all__ = ["OVERLAY_STATES", "apply_plan_overlay", "overlay_live", "plans_to_overlay"]

# A loan's newest accepted plan in one of these states may overlay its status.
OVERLAY_STATES = ("active", "kept", "completed", "broken")
_CHUNK = 500
_MONEY = (
    "overdue_principal",
    "overdue_interest",
    "accrued_penalty",
    "accrued_compound",
    "principal_outstanding",
    "next_due_amount",
    "credit_balance",
    "total_due_now",
)


@dataclass(frozen=True, slots=True)
class _PlanOfLoan:
    plan_id: int
    loan_id: str
    product: str | None
    terms: PlanTerms


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[k : k + _CHUNK] for k in range(0, len(unique), _CHUNK)]


def plans_to_overlay(
    conn: Connection, as_of: date, loan_ids: Sequence[str] | None = None
) -> dict[str, _PlanOfLoan]:
    """Per loan (all, or the given ones): its newest accepted plan started by ``as_of`` in
    :data:`OVERLAY_STATES`. Two queries (ids, then the chosen plans' terms)."""
    p = pt.plans.c
    base = select(p.plan_id, p.loan_id, p.accepted_at).where(
        p.accepted_at.is_not(None), p.start_on <= as_of, p.status.in_(OVERLAY_STATES)
    )
    rows: list[Any] = []
    if loan_ids is None:
        rows = list(conn.execute(base))
    else:
        for chunk in _chunks(loan_ids):
            rows += list(conn.execute(base.where(p.loan_id.in_(chunk))))
    newest: dict[str, tuple[Any, int]] = {}
    for r in rows:
        key = (r.accepted_at, int(r.plan_id))
        if r.loan_id not in newest or key > newest[r.loan_id]:
            newest[r.loan_id] = key
    chosen = [str(k[1]) for k in newest.values()]
    out: dict[str, _PlanOfLoan] = {}
    for chunk in _chunks(chosen):
        for r in conn.execute(
            select(p.plan_id, p.loan_id, p.terms, t.loans.c.product)
            .join(t.loans, t.loans.c.loan_id == p.loan_id)
            .where(p.plan_id.in_([int(i) for i in chunk]))
        ):
            out[r.loan_id] = _PlanOfLoan(
                int(r.plan_id), r.loan_id, r.product, terms_from_data(r.terms)
            )
    return out


def _payments(
    conn: Connection, plans: Mapping[str, _PlanOfLoan], as_of: date
) -> dict[str, list[tuple[date, Decimal]]]:
    """Each plan loan's payments dated from its plan's start through ``as_of``."""
    pay = t.payments.c
    out: dict[str, list[tuple[date, Decimal]]] = {loan: [] for loan in plans}
    for chunk in _chunks(list(plans)):
        first = min(plans[loan].terms.start for loan in chunk)
        for r in conn.execute(
            select(pay.loan_id, pay.paid_on, pay.amount_minor)
            .where(pay.loan_id.in_(chunk), pay.paid_on >= first, pay.paid_on <= as_of)
            .order_by(pay.loan_id, pay.paid_on)
        ):
            if r.paid_on >= plans[r.loan_id].terms.start:
                out[r.loan_id].append((r.paid_on, from_minor(int(r.amount_minor))))
    return out


def _product(products: Mapping[str, ProductSettings] | None, code: str | None) -> ProductSettings:
    found = dict(products or {})
    default = found.get("default", ProductSettings())
    return found.get(code or "default", default)


def _fields(row: Mapping[str, Any]) -> StatusFields:
    """A stored (``…_minor``) status row as domain fields."""
    money = {name: from_minor(int(row[f"{name}_minor"])) for name in _MONEY}
    return StatusFields(
        dpd=int(row["dpd"]),
        bucket=str(row["bucket"]),
        classification=Classification(row["classification"]),
        next_due_date=row["next_due_date"],
        paid_off=bool(row["paid_off"]),
        **money,
    )


def _stored(status: StatusFields) -> dict[str, Any]:
    """Domain fields as the store's columns (money in minor units)."""
    out: dict[str, Any] = {
        "dpd": status.dpd,
        "bucket": status.bucket,
        "classification": status.classification.value,
        "next_due_date": status.next_due_date,
        "paid_off": status.paid_off,
    }
    for name in _MONEY:
        out[f"{name}_minor"] = to_minor(getattr(status, name))
    return out


def _contractual(row: Mapping[str, Any], note: Mapping[str, Any] | None) -> dict[str, Any]:
    """The row before any overlay: an overlaid row's replaced values put back."""
    if not note:
        return dict(row)
    out = dict(row)
    for name, value in (note.get("replaced") or {}).items():
        key = f"{name}_minor" if name in _MONEY else name
        if name in _MONEY:
            out[key] = to_minor(Decimal(value))
        elif name == "next_due_date":
            out[key] = date.fromisoformat(value) if value else None
        else:
            out[key] = value
    return out


def _overlay(
    plan: _PlanOfLoan,
    payments: Sequence[tuple[date, Decimal]],
    row: Mapping[str, Any],
    as_of: date,
    products: Mapping[str, ProductSettings] | None,
) -> Overlay | None:
    evaluation = evaluate_plan(plan.terms, payments, as_of)
    return overlay_status(plan.terms, evaluation, _fields(row), _product(products, plan.product))


def _note(plan: _PlanOfLoan, overlay: Overlay) -> dict[str, Any]:
    return {"plan_id": plan.plan_id, **overlay.note.to_data()}


def apply_plan_overlay(
    conn: Connection, as_of: date, products: Mapping[str, ProductSettings] | None = None
) -> int:
    """Overlay the stored statuses of ``as_of`` of the loans under a plan (inside the cycle's
    transaction, after ``settle_plans``). Returns the number of rows overlaid. Idempotent: a
    row overlaid already is overlaid again from its contract's values."""
    plans = plans_to_overlay(conn, as_of)
    if not plans:
        return 0
    s = t.status_history
    cols = [s.c[name] for name in STORED_STATUS] + [s.c.plan_overlay]
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(list(plans)):
        rows += [
            dict(r._mapping)
            for r in conn.execute(select(*cols).where(s.c.as_of == as_of, s.c.loan_id.in_(chunk)))
        ]
    payments = _payments(conn, plans, as_of)
    updates: list[dict[str, Any]] = []
    touched: list[str] = []
    for row in rows:
        plan = plans[row["loan_id"]]
        before = row.pop("plan_overlay")
        base = _contractual(row, before)
        overlay = _overlay(plan, payments[plan.loan_id], base, as_of, products)
        if overlay is None:
            if before is not None:  # overlaid before, the contract stands now: put it back
                updates.append({**_values(base), "plan_overlay": None, "b_loan": row["loan_id"]})
                touched.append(row["borrower_id"])
            continue
        updates.append(
            {
                **_stored(overlay.status),
                "plan_overlay": _note(plan, overlay),
                "b_loan": row["loan_id"],
            }
        )
        touched.append(row["borrower_id"])
    if updates:
        names = [k for k in updates[0] if k != "b_loan"]  # the same keys in every update
        stmt = (
            update(s)
            .where(and_(s.c.loan_id == bindparam("b_loan"), s.c.as_of == as_of))
            .values({**{name: bindparam(name) for name in names}, "quiet_until": None})
        )
        conn.execute(stmt, updates)
        refresh_standing(conn, sorted(set(touched)))
    return sum(1 for u in updates if u["plan_overlay"] is not None)


def _values(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row's status columns that an overlay may change."""
    names = ["dpd", "bucket", "classification", "next_due_date", "paid_off"]
    names += [f"{n}_minor" for n in _MONEY]
    return {n: row[n] for n in names}


def overlay_live(
    conn: Connection,
    statuses: dict[str, dict[str, Any]],
    as_of: date,
    products: Mapping[str, ProductSettings] | None = None,
    known_plans: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """``statuses`` (loan id → a status row as ``live_status`` gives it) with the plan
    overlay applied to the loans under a plan; an overlaid row gets ``plan_overlay`` (plan
    id, state, the plan's own figures and what changed compared with the row it was given).
    One query when no loan has a plan.

    ``known_plans``: every plan of these loans, already read in this transaction (rows of
    ``plans``, e.g. the account view's list); when none of them can overlay, no query."""
    if not statuses:
        return statuses
    if known_plans is not None and not any(
        r["loan_id"] in statuses
        and r["accepted_at"] is not None
        and r["start_on"] <= as_of
        and r["status"] in OVERLAY_STATES
        for r in known_plans
    ):
        return statuses
    plans = plans_to_overlay(conn, as_of, list(statuses))
    if not plans:
        return statuses
    payments = _payments(conn, plans, as_of)
    for loan_id, plan in plans.items():
        row = statuses.get(loan_id)
        if row is None:
            continue
        overlay = _overlay(plan, payments[loan_id], row, as_of, products)
        if overlay is not None:
            statuses[loan_id] = {
                **row,
                **_stored(overlay.status),
                "plan_overlay": _note(plan, overlay),
            }
    return statuses
