"""Plan monitoring: a plan as of a date, given the payments received since it started.

:func:`evaluate_plan` is pure: ``terms`` (from :mod:`~arrears.domain.negotiation.plans`), the
payments dated on or after the plan start as ``(date, amount)`` pairs, and ``as_of``.

The plan's instalments are tracked like a schedule, cumulatively: all plan money so far,
laid against the instalments end to end, oldest first; instalment ``j`` is *paid* on the day
the cumulative money reaches the end of ``j``. Instalment ``j`` is *missed* if it is not paid
by the end of ``due_date + grace_days``; the first missed instalment breaks the plan on that
day (``broken_on``). States:

- ``active``: started, not broken, instalments left to pay. Penalty and compound interest are
  frozen at their figures at the start; nothing accrues;
- ``kept``: every plan instalment paid, none missed. A conditional waiver is written off that
  day. The account goes on under the ordinary ledger rules with ``after_plan`` (contractual
  installments after the window), any overpayment applied to them;
- ``completed``: kept, and nothing is owed any more (the loan is paid off). Reached on the
  day the plan is kept when it has no ``after_plan``, else when those are paid;
- ``broken``: a plan instalment was missed. The waiver is reinstated per the terms
  (``all``; ``pro_rata``: the part not earned, ``waiver × (1 − paid / payable)``, each
  component rounded with ``round2``; an unconditional waiver stays written off). The account
  reverts to ``fallback_items`` with the frozen penalty and compound interest plus what is
  reinstated; the plan money received through ``broken_on`` is applied to that by the
  ordinary waterfall (penalty, compound, then installments oldest first), and the ordinary
  rules (accrual, grace, waterfall) run from the next day.

Reconciliation, to the cent, in every state (:attr:`PlanEvaluation.reconciles`)::

    owed_at_start + accrued_after == (paid − credit_balance) + waived + still_owed

where ``waived`` is the waiver currently not owed (all of it unless broken; after a break,
what stays written off) and ``accrued_after`` the penalty and compound interest charged under
the ordinary rules after the plan was broken or kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.money import ZERO, round2_fraction
from arrears.domain.negotiation._tail import TailStatus, run_tail
from arrears.domain.negotiation.plans import PlanTerms, ReinstateRule
from arrears.domain.negotiation.snapshot import Components

__all__ = [
    "InstalmentProgress",
    "InstalmentStatus",
    "PlanEvaluation",
    "PlanEvent",
    "PlanEventKind",
    "PlanState",
    "evaluate_plan",
    "reinstatement",
]

_DAY = timedelta(days=1)


class PlanState(StrEnum):
    ACTIVE = "active"
    KEPT = "kept"
    COMPLETED = "completed"
    BROKEN = "broken"


class InstalmentStatus(StrEnum):
    PAID = "paid"
    PENDING = "pending"  # not yet due
    DUE = "due"  # due, not paid in full, still within grace
    MISSED = "missed"  # not paid in full by due + grace: broke the plan
    VOID = "void"  # after the instalment that broke the plan


class PlanEventKind(StrEnum):
    WAIVER_WRITTEN_OFF = "waiver_written_off"
    PLAN_KEPT = "plan_kept"
    PLAN_COMPLETED = "plan_completed"
    PLAN_BROKEN = "plan_broken"
    WAIVER_REINSTATED = "waiver_reinstated"


@dataclass(frozen=True, slots=True)
class PlanEvent:
    kind: PlanEventKind
    on: date
    amount: Decimal  # written off / reinstated / unpaid part of the missed instalment / 0


@dataclass(frozen=True, slots=True)
class InstalmentProgress:
    seq: int
    due_date: date
    amount: Decimal
    paid: Decimal
    status: InstalmentStatus
    paid_on: date | None


@dataclass(frozen=True, slots=True)
class PlanEvaluation:
    state: PlanState
    as_of: date
    owed_at_start: Decimal
    paid: Decimal  # all money received from the plan start through as_of
    credit_balance: Decimal  # money beyond everything owed
    waived: Decimal
    written_off: Decimal  # final part of the waiver
    reinstated: Decimal
    accrued_after: Decimal  # penalty + compound charged after a break or after kept
    still_owed: Decimal
    still_owed_components: Components
    instalments: tuple[InstalmentProgress, ...]
    events: tuple[PlanEvent, ...]
    kept_on: date | None
    broken_on: date | None
    completed_on: date | None
    dpd: int  # on plan instalments while active; ordinary DPD after kept / broken
    loan_paid_off: bool

    @property
    def applied(self) -> Decimal:
        """Money that went to what is owed (``paid − credit_balance``)."""
        return self.paid - self.credit_balance

    @property
    def reconciles(self) -> bool:
        return (
            self.owed_at_start + self.accrued_after == self.applied + self.waived + self.still_owed
        )


def reinstatement(terms: PlanTerms, paid_at_break: Decimal) -> Components:
    """The part of the waiver that stays written off when the plan breaks (per the terms)."""
    w = terms.waiver
    if not terms.waiver_conditional:
        return w
    if terms.reinstate is ReinstateRule.ALL:
        return Components()
    r = min(Fraction(1), Fraction(paid_at_break) / Fraction(terms.payable))
    return Components(
        penalty=round2_fraction(Fraction(w.penalty) * r),
        compound=round2_fraction(Fraction(w.compound) * r),
    )


def _check(terms: PlanTerms, payments: Sequence[tuple[date, Decimal]], as_of: date) -> None:
    issues: list[Issue] = []
    if as_of < terms.start:
        issues.append(Issue("plan", None, "as_of", f"{as_of} is before the start {terms.start}"))
    for k, (on, amount) in enumerate(payments):
        if on < terms.start:
            issues.append(
                Issue(
                    "payments",
                    k + 1,
                    "paid_on",
                    f"{on} is before the plan start {terms.start} (already in the snapshot)",
                )
            )
        if amount < 0:
            issues.append(Issue("payments", k + 1, "amount", f"{amount} is negative"))
    if issues:
        raise ValidationError(issues)


def evaluate_plan(
    terms: PlanTerms, payments: Sequence[tuple[date, Decimal]], as_of: date
) -> PlanEvaluation:
    """The plan at the end of ``as_of``; payments dated after ``as_of`` are ignored."""
    _check(terms, payments, as_of)
    pays = sorted((on, amount) for on, amount in payments if on <= as_of)
    paid = sum((a for _, a in pays), ZERO)
    insts = terms.instalments
    cum_plan = [ZERO]
    for inst in insts:
        cum_plan.append(cum_plan[-1] + inst.amount)
    paid_on: list[date | None] = [None] * len(insts)
    running, j = ZERO, 0
    for on, amount in pays:
        running += amount
        while j < len(insts) and running >= cum_plan[j + 1]:
            paid_on[j] = on
            j += 1
    missed: int | None = None
    for k, inst in enumerate(insts):
        check = inst.due_date + timedelta(days=terms.grace_days)
        if check > as_of:
            break
        done = paid_on[k]
        if done is None or done > check:
            missed = k
            break

    def paid_through(d: date) -> Decimal:
        return sum((a for on, a in pays if on <= d), ZERO)

    events: list[PlanEvent] = []
    if not terms.waiver_conditional and terms.waiver.total > 0:
        events.append(PlanEvent(PlanEventKind.WAIVER_WRITTEN_OFF, terms.start, terms.waiver.total))

    def progress(money: Decimal, broken_at: int | None) -> tuple[InstalmentProgress, ...]:
        out: list[InstalmentProgress] = []
        for k, inst in enumerate(insts):
            got = min(max(money - cum_plan[k], ZERO), inst.amount)
            done = paid_on[k] if got == inst.amount else None
            if broken_at is not None and k > broken_at:
                status = InstalmentStatus.VOID
            elif broken_at == k:
                status = InstalmentStatus.MISSED
            elif done is not None:
                status = InstalmentStatus.PAID
            elif inst.due_date > as_of:
                status = InstalmentStatus.PENDING
            else:
                status = InstalmentStatus.DUE
            out.append(InstalmentProgress(inst.seq, inst.due_date, inst.amount, got, status, done))
        return tuple(out)

    if missed is not None:
        return _broken(terms, pays, paid, as_of, missed, paid_through, progress, events)
    last_paid = paid_on[-1]
    if last_paid is not None:
        return _kept(terms, pays, paid, as_of, last_paid, paid_through, progress, events)
    # active
    remaining = terms.opening - terms.waiver
    taken, _ = remaining.take(paid)
    dpd = 0
    for k, inst in enumerate(insts):
        if paid_on[k] is None:
            dpd = max(0, (as_of - inst.due_date).days)
            break
    return PlanEvaluation(
        state=PlanState.ACTIVE,
        as_of=as_of,
        owed_at_start=terms.owed_at_start,
        paid=paid,
        credit_balance=ZERO,
        waived=terms.waiver.total,
        written_off=ZERO if terms.waiver_conditional else terms.waiver.total,
        reinstated=ZERO,
        accrued_after=ZERO,
        still_owed=terms.owed_at_start - terms.waiver.total - paid,
        still_owed_components=remaining - taken,
        instalments=progress(paid, None),
        events=tuple(events),
        kept_on=None,
        broken_on=None,
        completed_on=None,
        dpd=dpd,
        loan_paid_off=False,
    )


_PaidThrough = Callable[[date], Decimal]
_Progress = Callable[[Decimal, "int | None"], "tuple[InstalmentProgress, ...]"]


def _components(tail: TailStatus) -> Components:
    return Components(tail.penalty, tail.compound, tail.unpaid_interest, tail.unpaid_principal)


def _broken(
    terms: PlanTerms,
    pays: list[tuple[date, Decimal]],
    paid: Decimal,
    as_of: date,
    missed: int,
    paid_through: _PaidThrough,
    progress: _Progress,
    events: list[PlanEvent],
) -> PlanEvaluation:
    inst = terms.instalments[missed]
    broken_on = inst.due_date + timedelta(days=terms.grace_days)
    paid_b = paid_through(broken_on)
    off = reinstatement(terms, paid_b)
    reinstated = terms.waiver.total - off.total
    missed_left = inst.amount - min(
        max(paid_b - sum((i.amount for i in terms.instalments[:missed]), ZERO), ZERO), inst.amount
    )
    events.append(PlanEvent(PlanEventKind.PLAN_BROKEN, broken_on, missed_left))
    if terms.waiver_conditional and off.total > 0:
        events.append(PlanEvent(PlanEventKind.WAIVER_WRITTEN_OFF, broken_on, off.total))
    if reinstated > 0:
        events.append(PlanEvent(PlanEventKind.WAIVER_REINSTATED, broken_on, reinstated))
    # the ordinary waterfall on the reverted balance
    owed = {
        "penalty": terms.opening.penalty - off.penalty,
        "compound": terms.opening.compound - off.compound,
    }
    rest = paid_b
    for name in ("penalty", "compound") if terms.rules.penalty_first else ("compound", "penalty"):
        pay = min(rest, owed[name])
        owed[name] -= pay
        rest -= pay
    tail = run_tail(
        terms.fallback_items,
        terms.rules,
        first_day=broken_on + _DAY,
        as_of=as_of,
        opening_penalty=owed["penalty"],
        opening_compound=owed["compound"],
        opening_s=rest,
        payments=[(on, a) for on, a in pays if on > broken_on],
    )
    return PlanEvaluation(
        state=PlanState.BROKEN,
        as_of=as_of,
        owed_at_start=terms.owed_at_start,
        paid=paid,
        credit_balance=tail.credit_balance,
        waived=off.total,
        written_off=off.total,
        reinstated=reinstated,
        accrued_after=tail.penalty_charged + tail.compound_charged,
        still_owed=tail.still_owed,
        still_owed_components=_components(tail),
        instalments=progress(paid_b, missed),
        events=tuple(events),
        kept_on=None,
        broken_on=broken_on,
        completed_on=None,
        dpd=tail.dpd,
        loan_paid_off=tail.paid_off,
    )


def _kept(
    terms: PlanTerms,
    pays: list[tuple[date, Decimal]],
    paid: Decimal,
    as_of: date,
    kept_on: date,
    paid_through: _PaidThrough,
    progress: _Progress,
    events: list[PlanEvent],
) -> PlanEvaluation:
    if terms.waiver_conditional and terms.waiver.total > 0:
        events.append(PlanEvent(PlanEventKind.WAIVER_WRITTEN_OFF, kept_on, terms.waiver.total))
    events.append(PlanEvent(PlanEventKind.PLAN_KEPT, kept_on, ZERO))
    overpay = paid_through(kept_on) - terms.payable
    if not terms.after_plan:
        events.append(PlanEvent(PlanEventKind.PLAN_COMPLETED, kept_on, ZERO))
        return PlanEvaluation(
            state=PlanState.COMPLETED,
            as_of=as_of,
            owed_at_start=terms.owed_at_start,
            paid=paid,
            credit_balance=paid - terms.payable,
            waived=terms.waiver.total,
            written_off=terms.waiver.total,
            reinstated=ZERO,
            accrued_after=ZERO,
            still_owed=ZERO,
            still_owed_components=Components(),
            instalments=progress(paid, None),
            events=tuple(events),
            kept_on=kept_on,
            broken_on=None,
            completed_on=kept_on,
            dpd=0,
            loan_paid_off=True,
        )
    tail = run_tail(
        terms.after_plan,
        terms.rules,
        first_day=kept_on + _DAY,
        as_of=as_of,
        opening_s=overpay,
        payments=[(on, a) for on, a in pays if on > kept_on],
    )
    completed_on = tail.paid_off_on
    if completed_on is not None:
        completed_on = max(completed_on, kept_on)
        events.append(PlanEvent(PlanEventKind.PLAN_COMPLETED, completed_on, ZERO))
    return PlanEvaluation(
        state=PlanState.COMPLETED if completed_on is not None else PlanState.KEPT,
        as_of=as_of,
        owed_at_start=terms.owed_at_start,
        paid=paid,
        credit_balance=tail.credit_balance,
        waived=terms.waiver.total,
        written_off=terms.waiver.total,
        reinstated=ZERO,
        accrued_after=tail.penalty_charged + tail.compound_charged,
        still_owed=tail.still_owed,
        still_owed_components=_components(tail),
        instalments=progress(paid, None),
        events=tuple(events),
        kept_on=kept_on,
        broken_on=None,
        completed_on=completed_on,
        dpd=tail.dpd,
        loan_paid_off=tail.paid_off,
    )
