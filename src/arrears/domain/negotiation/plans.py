"""The plan calculator: repayment plans as an overlay on a loan (docs/negotiation.md).

Every plan starts from an :class:`~arrears.domain.negotiation.snapshot.AccountSnapshot` — the
loan at the opening of the plan's start day ``D`` — and yields a :class:`PlanTerms`:

- ``instalments``: the plan's own payments (date, amount). Missing one past ``grace_days``
  breaks the plan. While the plan is active and kept, penalty and compound interest are
  frozen at their figures at ``D`` (nothing accrues);
- ``after_plan``: contractual installments that stay on their (possibly shifted) dates after
  the plan's window, under the ordinary ledger rules. Empty when the plan covers the whole
  loan;
- ``waiver``: what the lender gives up, by component; ``waiver_conditional`` says whether it
  waits for the plan to be kept (written off then, reinstated per ``reinstate`` if the plan
  breaks) or is written off at once;
- ``fallback_items``: the contract the account reverts to if the plan breaks (the original
  unpaid installments; for a restructure, the overdue interest plus the new schedule).

Reconciliation, to the cent and checked when terms are built::

    sum(instalments) + sum(after_plan) + waiver.total == opening.total
    opening.total == ledger_owed.total + contract_change

``contract_change`` is zero except for a restructure (new interest minus the old contract's
unpaid interest of the not-yet-due installments).

Builders (all pure, exact, money in ``Decimal`` with ``round2``):

- :func:`instalment_plan` — the amount due now over ``months`` monthly instalments (optional
  down payment on ``D``); contractual installments falling due in the window are folded into
  the plan instalment on or after their due date, later ones stay in ``after_plan``;
- :func:`deferral_plan` — a payment holiday: nothing falls due for ``months`` months; the
  amount due now is then paid over ``spread_months``, and every contractual installment moves
  ``months`` months later;
- :func:`settlement_plan` — a discounted payoff of everything owed in one or a few payments;
  the discount is a conditional waiver taken from penalty, then compound, interest, principal;
- :func:`restructure_plan` — a new schedule (``generate_schedule``) for the whole outstanding
  principal with a new term and rate from ``D``; overdue interest, penalty and compound
  (less any waiver) are a down payment on ``D``. Sets the restructured flag, the class floor
  and the observation period of loan-math.md.

Any builder takes ``waiver`` as :class:`Components` (penalty and compound only; see
:func:`waiver_of`). Bad parameters raise ``ValidationError`` naming the parameter.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from arrears.domain.delinquency import apply_restructure_floor
from arrears.domain.errors import Issue, LedgerError, ValidationError
from arrears.domain.loans import Installment, LoanTerms
from arrears.domain.money import ZERO, round2_fraction
from arrears.domain.negotiation.snapshot import AccountSnapshot, AccrualRules, Components
from arrears.domain.products import Classification, RepaymentMethod
from arrears.domain.schedules import add_months, generate_schedule

__all__ = [
    "PlanInstalment",
    "PlanKind",
    "PlanTerms",
    "ReinstateRule",
    "RestructureTerms",
    "deferral_plan",
    "floor_cents",
    "instalment_plan",
    "months_between",
    "restructure_plan",
    "restructured_contract",
    "settlement_plan",
    "split_evenly",
    "waiver_of",
]


class PlanKind(StrEnum):
    INSTALMENT = "instalment"
    DEFERRAL = "deferral"
    SETTLEMENT = "settlement"
    RESTRUCTURE = "restructure"


class ReinstateRule(StrEnum):
    """What a conditional waiver becomes when the plan breaks."""

    ALL = "all"  # the whole waiver is owed again
    PRO_RATA = "pro_rata"  # the part not earned: waiver × (1 − paid / payable), per component


@dataclass(frozen=True, slots=True)
class PlanInstalment:
    seq: int
    due_date: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RestructureTerms:
    """The new contract of a restructure (loan-math.md "Risk classification")."""

    principal: Decimal
    annual_rate: Decimal
    term_months: int
    method: RepaymentMethod
    schedule: tuple[Installment, ...]
    classification_before: Classification
    classification_floor: Classification  # the best class allowed during observation
    observation_end: date  # last day of the observation period

    def classification_on(self, as_of: date, by_dpd: Classification) -> Classification:
        """The loan's class floor on ``as_of`` given its DPD class (restructure floor applied)."""
        if as_of > self.observation_end:
            return by_dpd
        return apply_restructure_floor(by_dpd, self.classification_before)


@dataclass(frozen=True, slots=True)
class PlanTerms:
    kind: PlanKind
    loan_id: str
    start: date
    grace_days: int
    months: int  # instalment months (instalment, deferral spread, settlement payments, new term)
    deferral_months: int
    instalments: tuple[PlanInstalment, ...]
    after_plan: tuple[Installment, ...]
    opening: Components  # owed at D under the plan's contract
    ledger_owed: Components  # owed at D under the loan's contract (the snapshot)
    waiver: Components
    waiver_conditional: bool
    reinstate: ReinstateRule
    fallback_items: tuple[Installment, ...]
    rules: AccrualRules  # ordinary rules after the plan is broken or kept
    restructure: RestructureTerms | None = None

    def __post_init__(self) -> None:
        where = f"plan for loan {self.loan_id}"
        if not self.instalments:
            raise LedgerError(f"{where}: no instalments")
        prev: date | None = None
        for inst in self.instalments:
            if inst.amount <= 0:
                raise LedgerError(f"{where}: instalment {inst.seq} amount {inst.amount}")
            if inst.due_date < self.start or (prev is not None and inst.due_date <= prev):
                raise LedgerError(f"{where}: instalment dates must increase from {self.start}")
            prev = inst.due_date
        if not self.waiver.fits_within(self.opening):
            raise LedgerError(f"{where}: waiver {self.waiver} exceeds what is owed")
        if self.payable + self.after_plan_total + self.waiver.total != self.opening.total:
            raise LedgerError(
                f"{where}: instalments {self.payable} + after plan {self.after_plan_total} "
                f"+ waiver {self.waiver.total} != owed {self.opening.total}"
            )
        fallback = sum((i.amount for i in self.fallback_items), ZERO)
        if fallback != self.opening.interest + self.opening.principal:
            raise LedgerError(f"{where}: fallback installments do not sum to what is owed")
        if (self.waiver.interest or self.waiver.principal) and not (
            self.waiver_conditional and self.reinstate is ReinstateRule.ALL
        ):
            raise LedgerError(
                f"{where}: a waiver of interest or principal must be conditional and "
                "reinstated in full"
            )

    @property
    def payable(self) -> Decimal:
        """What the plan's instalments ask for in total."""
        return sum((i.amount for i in self.instalments), ZERO)

    @property
    def after_plan_total(self) -> Decimal:
        return sum((i.amount for i in self.after_plan), ZERO)

    @property
    def owed_at_start(self) -> Decimal:
        return self.opening.total

    @property
    def contract_change(self) -> Decimal:
        return self.opening.total - self.ledger_owed.total

    @property
    def total_if_kept(self) -> Decimal:
        """What the lender receives if the plan and the rest of the contract are kept."""
        return self.payable + self.after_plan_total

    @property
    def end_date(self) -> date:
        """Due date of the last plan instalment (end of the plan's window)."""
        return self.instalments[-1].due_date

    @property
    def plan_months(self) -> int:
        """Whole months from the start to the last plan instalment (rounded up)."""
        return months_between(self.start, self.end_date)

    @property
    def restructured(self) -> bool:
        return self.restructure is not None

    @property
    def waiver_pct_of_accruals(self) -> Fraction:
        """Waived penalty + compound as a share of penalty + compound owed (0 if none owed)."""
        owed = self.opening.accruals
        return Fraction(self.waiver.accruals) / Fraction(owed) if owed else Fraction(0)

    @property
    def discount_pct(self) -> Fraction:
        """Total waiver as a share of everything owed at the start."""
        owed = self.opening.total
        return Fraction(self.waiver.total) / Fraction(owed) if owed else Fraction(0)


# -- helpers -------------------------------------------------------------------------------


def _bad(column: str, reason: str) -> ValidationError:
    return ValidationError([Issue("plan", None, column, reason)])


def months_between(start: date, end: date) -> int:
    """The smallest ``k >= 0`` with ``add_months(start, k) >= end``."""
    k = max(0, (end.year - start.year) * 12 + end.month - start.month - 1)
    while add_months(start, k) < end:
        k += 1
    return k


def split_evenly(total: Decimal, n: int, column: str = "months") -> list[Decimal]:
    """``n`` amounts: ``round2(total / n)`` each, the last takes the rest (like a schedule)."""
    if n < 1:
        raise _bad(column, f"must be at least 1, got {n}")
    share = round2_fraction(Fraction(total) / n)
    last = total - share * (n - 1)
    if last < 0:
        raise _bad(column, f"{total} is too small to split into {n} instalments")
    return [share] * (n - 1) + [last]


def waiver_of(
    snapshot: AccountSnapshot,
    penalty_share: Decimal = Decimal(1),
    compound_share: Decimal = Decimal(1),
) -> Components:
    """A waiver of ``share × owed`` of the penalty and compound interest at ``D``.

    Rounded *down* to the cent, so that a waiver of x % never exceeds x % (an authority limit
    of 50 % must not be crossed by a half-up rounding).
    """
    for name, share in (("penalty_share", penalty_share), ("compound_share", compound_share)):
        if not 0 <= share <= 1:
            raise _bad(name, f"must be between 0 and 1, got {share}")
    return Components(
        penalty=floor_cents(Fraction(snapshot.penalty) * Fraction(penalty_share)),
        compound=floor_cents(Fraction(snapshot.compound) * Fraction(compound_share)),
    )


def floor_cents(x: Fraction) -> Decimal:
    """``x`` rounded down (toward minus infinity) to the cent."""
    return Decimal(math.floor(x * 100)).scaleb(-2)


def _check_waiver(snapshot: AccountSnapshot, waiver: Components | None) -> Components:
    if waiver is None:
        return Components()
    if waiver.interest or waiver.principal:
        raise _bad("waiver", "only penalty and compound interest can be waived in this plan")
    if not waiver.fits_within(snapshot.due_now):
        raise _bad(
            "waiver",
            f"waiver penalty {waiver.penalty} / compound {waiver.compound} must be between 0 and "
            f"what is owed ({snapshot.penalty} / {snapshot.compound})",
        )
    return waiver


def _grace(snapshot: AccountSnapshot, grace_days: int | None) -> int:
    grace = snapshot.rules.grace_days if grace_days is None else grace_days
    if grace < 0:
        raise _bad("grace_days", f"must not be negative, got {grace}")
    return grace


def _instalments(amounts: dict[date, Decimal]) -> tuple[PlanInstalment, ...]:
    dated = [(d, a) for d, a in sorted(amounts.items()) if a > 0]
    if not dated:
        raise _bad("kind", "nothing would be paid under this plan")
    return tuple(PlanInstalment(k, d, a) for k, (d, a) in enumerate(dated, start=1))


def _fold(amounts: dict[date, Decimal], dates: Sequence[date], on: date, amount: Decimal) -> None:
    """Add ``amount`` to the first of ``dates`` (ascending) on or after ``on``."""
    target = dates[bisect_left(dates, on)]
    amounts[target] = amounts.get(target, ZERO) + amount


# -- builders ------------------------------------------------------------------------------


def instalment_plan(
    snapshot: AccountSnapshot,
    months: int,
    *,
    down_payment: Decimal = ZERO,
    waiver: Components | None = None,
    waiver_conditional: bool = True,
    reinstate: ReinstateRule = ReinstateRule.ALL,
    grace_days: int | None = None,
) -> PlanTerms:
    """The amount due now (less waiver and down payment) over ``months`` monthly instalments.

    Plan instalment ``j`` is due ``add_months(D, j)``; the down payment, if any, on ``D``.
    A contractual installment due in ``[D, add_months(D, months)]`` is added to the first plan
    date (``D`` or a monthly date) on or after its due date; later ones stay in
    ``after_plan`` on their own dates.
    """
    w = _check_waiver(snapshot, waiver)
    grace = _grace(snapshot, grace_days)
    due_now = snapshot.total_due_now
    if due_now <= 0:
        raise _bad("kind", "nothing is due now: an instalment plan needs an amount due")
    if down_payment < 0 or down_payment > due_now - w.total:
        raise _bad(
            "down_payment",
            f"must be between 0 and the amount due now less the waiver "
            f"({due_now - w.total}), got {down_payment}",
        )
    if months < 1:
        raise _bad("months", f"must be at least 1, got {months}")
    shares = split_evenly(due_now - w.total - down_payment, months)
    dates = [add_months(snapshot.start, j) for j in range(1, months + 1)]
    amounts: dict[date, Decimal] = {snapshot.start: down_payment}
    for d, share in zip(dates, shares, strict=True):
        amounts[d] = amounts.get(d, ZERO) + share
    after: list[Installment] = []
    for item in snapshot.future_items:
        if item.due_date <= dates[-1]:
            _fold(amounts, [snapshot.start, *dates], item.due_date, item.amount)
        else:
            after.append(item)
    return PlanTerms(
        kind=PlanKind.INSTALMENT,
        loan_id=snapshot.loan_id,
        start=snapshot.start,
        grace_days=grace,
        months=months,
        deferral_months=0,
        instalments=_instalments(amounts),
        after_plan=tuple(after),
        opening=snapshot.owed,
        ledger_owed=snapshot.owed,
        waiver=w,
        waiver_conditional=waiver_conditional,
        reinstate=reinstate,
        fallback_items=snapshot.items,
        rules=snapshot.rules,
    )


def _shifted(snapshot: AccountSnapshot, item: Installment, months: int) -> date:
    """``item``'s due date ``months`` later (from the loan start, to avoid clamping drift)."""
    if item.due_date == add_months(snapshot.loan_start, item.seq):
        return add_months(snapshot.loan_start, item.seq + months)
    return add_months(item.due_date, months)


def deferral_plan(
    snapshot: AccountSnapshot,
    months: int,
    *,
    spread_months: int = 1,
    waiver: Components | None = None,
    waiver_conditional: bool = True,
    reinstate: ReinstateRule = ReinstateRule.ALL,
    grace_days: int | None = None,
) -> PlanTerms:
    """A payment holiday of ``months`` months.

    The amount due now (less waiver) is paid over ``spread_months`` monthly instalments, the
    first due ``add_months(D, months)``; every installment not yet due moves ``months`` months
    later. The plan's window ends with the last of those arrears instalments (or, with nothing
    due now, the first moved installment); moved installments after it are ``after_plan``.
    Breaking the plan voids the holiday: the account reverts to the original dates.
    """
    w = _check_waiver(snapshot, waiver)
    grace = _grace(snapshot, grace_days)
    if months < 1:
        raise _bad("months", f"must be at least 1, got {months}")
    if spread_months < 1:
        raise _bad("spread_months", f"must be at least 1, got {spread_months}")
    rest = snapshot.total_due_now - w.total
    moved = [(_shifted(snapshot, item, months), item) for item in snapshot.future_items]
    amounts: dict[date, Decimal] = {}
    if rest > 0:
        dates = [add_months(snapshot.start, months + j) for j in range(spread_months)]
        shares = split_evenly(rest, spread_months, "spread_months")
        amounts.update(zip(dates, shares, strict=True))
        window_end = dates[-1]
    elif moved:
        window_end = moved[0][0]
    else:
        raise _bad("kind", "nothing to defer: no amount due now and no installment to come")
    after: list[Installment] = []
    for due, item in moved:
        if due <= window_end:
            amounts[due] = amounts.get(due, ZERO) + item.amount
        else:
            after.append(Installment(item.seq, due, item.principal, item.interest))
    return PlanTerms(
        kind=PlanKind.DEFERRAL,
        loan_id=snapshot.loan_id,
        start=snapshot.start,
        grace_days=grace,
        months=spread_months,
        deferral_months=months,
        instalments=_instalments(amounts),
        after_plan=tuple(after),
        opening=snapshot.owed,
        ledger_owed=snapshot.owed,
        waiver=w,
        waiver_conditional=waiver_conditional,
        reinstate=reinstate,
        fallback_items=snapshot.items,
        rules=snapshot.rules,
    )


def settlement_plan(
    snapshot: AccountSnapshot,
    amount: Decimal,
    *,
    payments: int = 1,
    first_due: date | None = None,
    amounts: Sequence[Decimal] | None = None,
    grace_days: int | None = None,
) -> PlanTerms:
    """A discounted payoff of everything owed: ``amount`` in ``payments`` monthly payments.

    The first payment is due ``first_due`` (default ``D``), the others monthly after it; the
    split is :func:`split_evenly` unless ``amounts`` gives it. The discount
    (everything owed − ``amount``) is a conditional waiver, reinstated in full if the plan
    breaks, taken from penalty first, then compound interest, interest and principal.
    """
    grace = _grace(snapshot, grace_days)
    owed = snapshot.owed
    if not 0 < amount <= owed.total:
        raise _bad("amount", f"must be more than 0 and at most {owed.total}, got {amount}")
    first = snapshot.start if first_due is None else first_due
    if first < snapshot.start:
        raise _bad("first_due", f"must be on or after the start {snapshot.start}, got {first}")
    if amounts is None:
        split = split_evenly(amount, payments, "payments")
    else:
        split = list(amounts)
        if len(split) != payments or sum(split, ZERO) != amount or min(split) <= 0:
            raise _bad("amounts", f"must be {payments} positive amounts summing to {amount}")
    waiver, _ = owed.take(owed.total - amount)
    dates = [add_months(first, j) for j in range(payments)]
    return PlanTerms(
        kind=PlanKind.SETTLEMENT,
        loan_id=snapshot.loan_id,
        start=snapshot.start,
        grace_days=grace,
        months=payments,
        deferral_months=0,
        instalments=_instalments(dict(zip(dates, split, strict=True))),
        after_plan=(),
        opening=owed,
        ledger_owed=owed,
        waiver=waiver,
        waiver_conditional=True,
        reinstate=ReinstateRule.ALL,
        fallback_items=snapshot.items,
        rules=snapshot.rules,
    )


def observation_end(start: date, schedule: Sequence[Installment], term_months: int) -> date:
    """End of the observation period: at least two repayment periods and at least one year."""
    two_periods = schedule[1].due_date if len(schedule) >= 2 else add_months(start, 2 * term_months)
    return max(add_months(start, 12), two_periods)


def restructure_plan(
    snapshot: AccountSnapshot,
    term_months: int,
    *,
    annual_rate: Decimal | None = None,
    method: RepaymentMethod = RepaymentMethod.ANNUITY,
    waiver: Components | None = None,
    waiver_conditional: bool = True,
    reinstate: ReinstateRule = ReinstateRule.ALL,
    grace_days: int | None = None,
    classification_before: Classification | None = None,
) -> PlanTerms:
    """A new schedule for the whole outstanding principal from ``D``.

    The new schedule is ``generate_schedule(principal_outstanding, rate, term_months, D,
    method)``. Overdue interest, penalty and compound interest less the waiver are a down
    payment due on ``D`` (interest is not capitalised). The plan's window is the observation
    period (at least two repayment periods and one year); new installments after it are
    ``after_plan``. If the plan breaks, the new contract stays (a restructure changes the
    contract) and the waiver is reinstated per ``reinstate``.
    """
    w = _check_waiver(snapshot, waiver)
    grace = _grace(snapshot, grace_days)
    principal = snapshot.principal_outstanding
    if principal <= 0:
        raise _bad("kind", "no principal left to restructure")
    rate = snapshot.rules.annual_rate if annual_rate is None else annual_rate
    try:
        schedule = generate_schedule(principal, rate, term_months, snapshot.start, method)
    except LedgerError as exc:
        raise _bad("term_months", str(exc)) from None
    before = classification_before or Classification(snapshot.status.classification)
    obs_end = observation_end(snapshot.start, schedule, term_months)
    down = snapshot.penalty + snapshot.compound + snapshot.overdue_interest - w.total
    amounts: dict[date, Decimal] = {snapshot.start: down}
    after: list[Installment] = []
    for inst in schedule:
        if inst.due_date <= obs_end:
            amounts[inst.due_date] = inst.amount
        else:
            after.append(inst)
    new_interest = sum((i.interest for i in schedule), ZERO)
    opening = Components(
        snapshot.penalty, snapshot.compound, snapshot.overdue_interest + new_interest, principal
    )
    kept_interest = [i for i in snapshot.overdue_items if i.interest > 0]
    fallback = [Installment(0, i.due_date, ZERO, i.interest) for i in kept_interest]
    fallback += list(schedule)
    return PlanTerms(
        kind=PlanKind.RESTRUCTURE,
        loan_id=snapshot.loan_id,
        start=snapshot.start,
        grace_days=grace,
        months=term_months,
        deferral_months=0,
        instalments=_instalments(amounts),
        after_plan=tuple(after),
        opening=opening,
        ledger_owed=snapshot.owed,
        waiver=w,
        waiver_conditional=waiver_conditional,
        reinstate=reinstate,
        fallback_items=tuple(replace(i, seq=k) for k, i in enumerate(fallback, start=1)),
        rules=replace(snapshot.rules, annual_rate=rate),
        restructure=RestructureTerms(
            principal=principal,
            annual_rate=rate,
            term_months=term_months,
            method=method,
            schedule=schedule,
            classification_before=before,
            classification_floor=apply_restructure_floor(Classification.NORMAL, before),
            observation_end=obs_end,
        ),
    )


def restructured_contract(
    loan: LoanTerms, terms: PlanTerms
) -> tuple[LoanTerms, tuple[Installment, ...]]:
    """The loan's new contract after a restructure, for the ledger (principal, rate, term, D).

    The down payment (overdue interest, penalty, compound) is not part of it: the plan keeps
    those figures (see docs/negotiation.md, "What the ledger needs").
    """
    r = terms.restructure
    if r is None:
        raise _bad("kind", f"a {terms.kind} plan does not change the contract")
    new = replace(
        loan,
        principal=r.principal,
        annual_rate=r.annual_rate,
        term_months=r.term_months,
        start_date=terms.start,
        method=r.method,
    )
    return new, r.schedule
