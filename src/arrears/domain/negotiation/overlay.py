"""The plan overlay: a loan's status fields (loan-math.md) as the plan makes them.

The ledger replays a loan's contract and knows nothing of plans (docs/negotiation.md). For a
loan under a plan, :func:`overlay_status` takes the contractual status fields the ledger
computed, the plan's terms and the monitor's evaluation (:func:`evaluate_plan`) of the same
day, and gives the fields as they stand under the plan — or ``None`` when the contract's
figures stand. Pure: no storage, no clock; money in ``Decimal``.

Which plan figures replace which fields, by the evaluation's state:

- ``active`` (any kind): the plan's instalments are the schedule. What the plan still asks
  for (the plan's opening less the waiver) is laid out in the ledger's order — penalty and
  compound interest (frozen at the start), then the loan's items (``fallback_items``) oldest
  first, interest before principal (a settlement's discount of interest or principal comes
  off the end) — and the plan money received is laid against it: penalty and compound first,
  then the items with credit applied on the plan's due dates (docs/ledger.md, ``C(D)``).

  * ``dpd``: days since the oldest unpaid plan instalment's due date (the monitor's);
  * ``total_due_now``: the unpaid part of the plan instalments due before the day; its part
    that is interest or principal is ``overdue_interest`` / ``overdue_principal``;
  * ``accrued_penalty`` / ``accrued_compound``: the frozen penalty and compound interest still
    owed (nothing accrues during a plan). The part of them not yet due under the plan is in
    these fields but not in ``total_due_now``;
  * ``principal_outstanding``: the principal not covered by the money applied;
  * ``next_due_date`` / ``next_due_amount``: the first plan instalment due on or after the day
    not paid in full and its unpaid part (else the first ``after_plan`` installment);
  * ``credit_balance``: plan money beyond the instalments due through the day;
  * ``paid_off``: false.

- ``kept`` (until completed) and ``broken`` for a restructure (whose new contract stays): the
  ordinary ledger rules on ``after_plan`` (kept) or ``fallback_items`` (broken), as the monitor
  ran them; the fields are read as docs/ledger.md reads a status (overdue parts, next due,
  credit given ``C(D)``).
- ``completed``: paid off — nothing owed, ``paid_off`` true, the money beyond what was owed as
  the credit balance. The waiver is written off (``written_off`` in the note).
- ``broken``, not a restructure: ``None`` — the loan is back on its contract, whose figures
  the ledger computes.

``bucket`` and ``classification`` follow the overlaid DPD with the product's tables; for a
restructure during its observation period (``as_of ≤ observation_end``) the classification is
the worse of that and the restructure floor (``RestructureTerms.classification_on``), unless
the loan is paid off.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from arrears.domain.loans import Installment
from arrears.domain.money import ZERO
from arrears.domain.negotiation.monitor import PlanEvaluation, PlanState
from arrears.domain.negotiation.plans import PlanTerms
from arrears.domain.negotiation.snapshot import Components
from arrears.domain.products import Classification, ProductSettings

__all__ = ["Overlay", "OverlayNote", "StatusFields", "overlay_status", "tail_figures"]


@dataclass(frozen=True, slots=True)
class StatusFields:
    """The status fields of loan-math.md "What a status answer holds" (money in Decimal)."""

    dpd: int
    bucket: str
    classification: Classification
    overdue_principal: Decimal
    overdue_interest: Decimal
    accrued_penalty: Decimal
    accrued_compound: Decimal
    principal_outstanding: Decimal
    next_due_date: date | None
    next_due_amount: Decimal
    credit_balance: Decimal
    total_due_now: Decimal
    paid_off: bool

    def changed_from(self, other: StatusFields) -> dict[str, Any]:
        """``{field: other's value}`` for every field where ``other`` differs from this."""
        return {
            f.name: getattr(other, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        }


@dataclass(frozen=True, slots=True)
class OverlayNote:
    """What the overlay did and the plan's own figures, kept with the overlaid row."""

    plan_state: PlanState
    kind: str
    source: str  # "plan" | "after_plan" | "restructured_contract" | "completed"
    class_floor: Classification | None  # the restructure floor, during observation
    observation_end: date | None
    paid: Decimal  # plan money received since the start
    still_owed: Components  # the monitor's still owed (all of it, due or not)
    waived: Decimal
    written_off: Decimal  # final part of the waiver (all of it once kept or completed)
    reinstated: Decimal
    replaced: dict[str, Any]  # the contractual value of each field the overlay changed

    def to_data(self) -> dict[str, Any]:
        """JSON-ready plain data (money as decimal strings, dates ISO)."""

        def plain(v: Any) -> Any:
            if isinstance(v, Decimal):
                return str(v)
            if isinstance(v, date):
                return v.isoformat()
            if isinstance(v, Classification):
                return v.value
            return v

        return {
            "plan_state": self.plan_state.value,
            "kind": self.kind,
            "source": self.source,
            "class_floor": plain(self.class_floor),
            "observation_end": plain(self.observation_end),
            "paid": str(self.paid),
            "still_owed": {
                "penalty": str(self.still_owed.penalty),
                "compound": str(self.still_owed.compound),
                "interest": str(self.still_owed.interest),
                "principal": str(self.still_owed.principal),
                "total": str(self.still_owed.total),
            },
            "waived": str(self.waived),
            "written_off": str(self.written_off),
            "reinstated": str(self.reinstated),
            "replaced": {k: plain(v) for k, v in sorted(self.replaced.items())},
        }


@dataclass(frozen=True, slots=True)
class Overlay:
    status: StatusFields
    note: OverlayNote


def overlay_status(
    terms: PlanTerms,
    evaluation: PlanEvaluation,
    contractual: StatusFields,
    product: ProductSettings,
) -> Overlay | None:
    """The status fields under the plan as of ``evaluation.as_of`` (``None``: the contract's
    figures stand — a broken plan that is not a restructure)."""
    ev = evaluation
    if ev.state is PlanState.BROKEN and terms.restructure is None:
        return None
    if ev.state is PlanState.ACTIVE:
        figures, source = _active(terms, ev), "plan"
    elif ev.state is PlanState.COMPLETED:
        figures, source = _completed(ev), "completed"
    elif ev.state is PlanState.KEPT:
        figures, source = _tail(terms.after_plan, ev), "after_plan"
    else:  # a broken restructure: the new contract stays
        figures, source = _tail(terms.fallback_items, ev), "restructured_contract"
    dpd = figures["dpd"]
    klass = product.classification.floor_for(dpd)
    floor: Classification | None = None
    r = terms.restructure
    if r is not None and ev.as_of <= r.observation_end and not figures["paid_off"]:
        floor = r.classification_floor
        klass = r.classification_on(ev.as_of, klass)
    status = StatusFields(bucket=product.bucket_for(dpd), classification=klass, **figures)
    note = OverlayNote(
        plan_state=ev.state,
        kind=terms.kind.value,
        source=source,
        class_floor=floor,
        observation_end=r.observation_end if r is not None else None,
        paid=ev.paid,
        still_owed=ev.still_owed_components,
        waived=ev.waived,
        written_off=ev.written_off,
        reinstated=ev.reinstated,
        replaced=status.changed_from(contractual),
    )
    return Overlay(status, note)


# -- the layout of what is owed ------------------------------------------------------------


def _items_less(
    items: Sequence[Installment], interest: Decimal, principal: Decimal
) -> list[tuple[Decimal, Decimal]]:
    """(interest, principal) per item with ``interest`` and ``principal`` taken off the end."""
    parts = [[i.interest, i.principal] for i in items]
    for col, amount in ((0, interest), (1, principal)):
        rest = amount
        for part in reversed(parts):
            take = min(rest, part[col])
            part[col] -= take
            rest -= take
    return [(a, b) for a, b in parts]


def _slice(segments: Sequence[tuple[str, Decimal]], lo: Decimal, hi: Decimal) -> Components:
    """The components of ``[lo, hi)`` of the segments laid end to end."""
    out = {"penalty": ZERO, "compound": ZERO, "interest": ZERO, "principal": ZERO}
    start = ZERO
    for name, amount in segments:
        end = start + amount
        overlap = min(hi, end) - max(lo, start)
        if overlap > 0:
            out[name] += overlap
        start = end
    return Components(**out)


def _active(terms: PlanTerms, ev: PlanEvaluation) -> dict[str, Any]:
    as_of = ev.as_of
    insts = terms.instalments
    cum = [ZERO]
    for inst in insts:
        cum.append(cum[-1] + inst.amount)
    dues = [i.due_date for i in insts]
    k_before = bisect_left(dues, as_of)  # due before the day: overdue if unpaid
    k_through = bisect_right(dues, as_of)  # due on or before the day
    paid = ev.paid
    coverage = min(paid, cum[k_through])  # credit is applied on the plan's due dates
    left = terms.opening - terms.waiver
    order = ("penalty", "compound") if terms.rules.penalty_first else ("compound", "penalty")
    accruals = [(name, getattr(left, name)) for name in order]
    acc_total = left.penalty + left.compound
    acc_paid = min(paid, acc_total)
    items = _items_less(terms.fallback_items, terms.waiver.interest, terms.waiver.principal)
    item_segments = [seg for i, p in items for seg in (("interest", i), ("principal", p))]
    items_covered = max(ZERO, coverage - acc_paid)
    owed_acc = _slice(accruals, acc_paid, acc_total)
    items_total = sum((a + b for a, b in items), ZERO)
    owed_items = _slice(item_segments, items_covered, items_total)
    overdue = _slice([*accruals, *item_segments], paid, max(paid, cum[k_before]))
    next_date: date | None = None
    next_amount = ZERO
    for k in range(k_before, len(insts)):
        unpaid = cum[k + 1] - max(coverage, cum[k])
        if unpaid > 0:
            next_date, next_amount = dues[k], min(unpaid, insts[k].amount)
            break
    else:
        later = [i for i in terms.after_plan if i.due_date >= as_of]
        if later:
            next_date, next_amount = later[0].due_date, later[0].amount
    return {
        "dpd": ev.dpd,
        "overdue_principal": overdue.principal,
        "overdue_interest": overdue.interest,
        "accrued_penalty": owed_acc.penalty,
        "accrued_compound": owed_acc.compound,
        "principal_outstanding": owed_items.principal,
        "next_due_date": next_date,
        "next_due_amount": next_amount,
        "credit_balance": paid - acc_paid - items_covered,
        "total_due_now": overdue.total,
        "paid_off": False,
    }


def _completed(ev: PlanEvaluation) -> dict[str, Any]:
    return {
        "dpd": 0,
        "overdue_principal": ZERO,
        "overdue_interest": ZERO,
        "accrued_penalty": ZERO,
        "accrued_compound": ZERO,
        "principal_outstanding": ZERO,
        "next_due_date": None,
        "next_due_amount": ZERO,
        "credit_balance": ev.credit_balance,
        "total_due_now": ZERO,
        "paid_off": True,
    }


def tail_figures(
    items: Sequence[Installment],
    still_owed: Components,
    credit_beyond_all: Decimal,
    as_of: date,
) -> dict[str, Any]:
    """Overdue parts, principal outstanding, next due and credit of a run of the ordinary
    rules on ``items``, from what it leaves owed: ``S`` (the money applied to the items) is
    everything the items ask for less their unpaid interest and principal, plus the money
    beyond all of them (docs/ledger.md, "The model")."""
    dues = [i.due_date for i in items]
    cum = [ZERO]
    for i in items:
        cum.append(cum[-1] + i.amount)
    s = cum[-1] - still_owed.interest - still_owed.principal + credit_beyond_all
    k_through = bisect_right(dues, as_of)
    overdue_end = bisect_left(dues, as_of)
    coverage = min(s, cum[k_through])

    def unpaid(k: int) -> tuple[Decimal, Decimal]:
        covered = min(max(coverage - cum[k], ZERO), items[k].amount)
        interest_paid = min(covered, items[k].interest)
        return items[k].interest - interest_paid, items[k].principal - (covered - interest_paid)

    o_int = o_prin = outstanding = ZERO
    for k in range(len(items)):
        interest, principal = unpaid(k)
        outstanding += principal
        if k < overdue_end:
            o_int += interest
            o_prin += principal
    first = bisect_right(cum, coverage) - 1
    nxt = max(first, overdue_end)
    next_date = dues[nxt] if nxt < len(items) else None
    next_amount = sum(unpaid(nxt), ZERO) if nxt < len(items) else ZERO
    return {
        "overdue_principal": o_prin,
        "overdue_interest": o_int,
        "principal_outstanding": outstanding,
        "next_due_date": next_date,
        "next_due_amount": next_amount,
        "credit_balance": max(ZERO, s - cum[k_through]),
        "dpd": (as_of - dues[first]).days if first < overdue_end else 0,
    }


def _tail(items: Sequence[Installment], ev: PlanEvaluation) -> dict[str, Any]:
    t = tail_figures(items, ev.still_owed_components, ev.credit_balance, ev.as_of)
    sc = ev.still_owed_components
    return {
        **t,
        "dpd": ev.dpd,
        "accrued_penalty": sc.penalty,
        "accrued_compound": sc.compound,
        "total_due_now": t["overdue_principal"] + t["overdue_interest"] + sc.penalty + sc.compound,
        "paid_off": ev.loan_paid_off,
    }
