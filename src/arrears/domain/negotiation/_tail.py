"""The ordinary ledger rules run from an opening state (after a plan is broken or kept).

``arrears.domain.ledger.LedgerState`` always starts a loan from nothing. After a broken plan
the account restarts from an *opening state* — penalty and compound interest already owed,
money already applied to the installments (``S``) — on a given day, and accrual runs from the
next day. This module is that run, with exactly the rules of docs/ledger.md ("Day order"):
payments first (penalty, compound, then ``S``), then the day's accrual on what is overdue
(provisional inside an installment's grace period), then the end of grace. It is tested
against ``LedgerState`` on random books (tests/property/test_plan_properties.py) with an empty
opening state.

Private to the package: the public answer is :class:`arrears.domain.negotiation.monitor.
PlanEvaluation`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from arrears.domain.loans import Installment
from arrears.domain.money import ZERO, round2, round2_fraction
from arrears.domain.negotiation.snapshot import AccrualRules

__all__ = ["TailStatus", "run_tail"]

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class TailStatus:
    """The account at the end of ``as_of`` under the ordinary rules."""

    as_of: date
    dpd: int
    overdue_interest: Decimal
    overdue_principal: Decimal
    penalty: Decimal  # round2 of the exact owed penalty
    compound: Decimal
    unpaid_interest: Decimal  # all installments, due or not, net of any credit balance
    unpaid_principal: Decimal
    credit_balance: Decimal  # money received beyond every installment
    received: Decimal
    penalty_paid: Decimal
    compound_paid: Decimal
    penalty_charged: Decimal  # paid + still owed − opening, in cents
    compound_charged: Decimal
    paid_off: bool
    paid_off_on: date | None  # first day at whose end the account was paid off
    next_due_date: date | None

    @property
    def still_owed(self) -> Decimal:
        return self.penalty + self.compound + self.unpaid_interest + self.unpaid_principal


class _Run:
    def __init__(
        self,
        items: Sequence[Installment],
        rules: AccrualRules,
        opening_penalty: Decimal,
        opening_compound: Decimal,
        opening_s: Decimal,
    ) -> None:
        self.items = tuple(items)
        self.rules = rules
        self.dues = tuple(i.due_date for i in self.items)
        cum = [Decimal(0)]
        for i in self.items:
            cum.append(cum[-1] + i.amount)
        self.cum = tuple(cum)
        self.grace = rules.grace_days
        self.rate = rules.daily_rate
        self.s = opening_s
        self.penalty = Fraction(opening_penalty)
        self.compound = Fraction(opening_compound)
        self.prov_penalty = [Fraction(0)] * len(self.items)
        self.prov_compound = [Fraction(0)] * len(self.items)
        self.received = Decimal(0)
        self.penalty_paid = Decimal(0)
        self.compound_paid = Decimal(0)

    def coverage(self, d: date) -> Decimal:
        return min(self.s, self.cum[bisect_right(self.dues, d)])

    def unpaid(self, k: int, c: Decimal) -> tuple[Decimal, Decimal]:
        item = self.items[k]
        covered = min(max(c - self.cum[k], Decimal(0)), item.amount)
        interest_paid = min(covered, item.interest)
        return item.interest - interest_paid, item.principal - (covered - interest_paid)

    def first_unpaid(self, c: Decimal) -> int:
        return bisect_right(self.cum, c) - 1

    def allocate(self, amount: Decimal) -> None:
        self.received += amount
        rest = amount
        order = ("penalty", "compound") if self.rules.penalty_first else ("compound", "penalty")
        for name in order:
            accrued = self.penalty if name == "penalty" else self.compound
            owed = round2_fraction(accrued)
            pay = min(rest, owed)
            left = Fraction(0) if pay == owed else accrued - Fraction(pay)
            if name == "penalty":
                self.penalty, self.penalty_paid = left, self.penalty_paid + pay
            else:
                self.compound, self.compound_paid = left, self.compound_paid + pay
            rest -= pay
        self.s += rest

    def accrue(self, first: date, days: int) -> None:
        c = self.coverage(first)
        rate = self.rate * days
        for k in range(self.first_unpaid(c), bisect_left(self.dues, first)):
            interest, principal = self.unpaid(k, c)
            add_p = Fraction(principal) * rate
            add_c = Fraction(interest) * rate if self.rules.compound_on_overdue_interest else 0
            if self.grace and first <= self.dues[k] + timedelta(days=self.grace):
                self.prov_penalty[k] += add_p
                self.prov_compound[k] += add_c
            else:
                self.penalty += add_p
                self.compound += add_c

    def end_grace(self, d: date) -> None:
        if not self.grace:
            return
        for k, due in enumerate(self.dues):
            if due + timedelta(days=self.grace) == d:
                if self.coverage(d) < self.cum[k + 1]:
                    self.penalty += self.prov_penalty[k]
                    self.compound += self.prov_compound[k]
                self.prov_penalty[k] = Fraction(0)
                self.prov_compound[k] = Fraction(0)

    def paid_off(self, d: date) -> bool:
        c = self.coverage(d)
        return (
            self.first_unpaid(c) == len(self.items)
            and round2_fraction(self.penalty) == ZERO
            and round2_fraction(self.compound) == ZERO
        )


def run_tail(
    items: Sequence[Installment],
    rules: AccrualRules,
    *,
    first_day: date,
    as_of: date,
    opening_penalty: Decimal = ZERO,
    opening_compound: Decimal = ZERO,
    opening_s: Decimal = ZERO,
    payments: Sequence[tuple[date, Decimal]] = (),
) -> TailStatus:
    """Run days ``first_day .. as_of`` from the opening state; ``items`` by due date.

    Payments dated before ``first_day`` or after ``as_of`` are ignored (the caller has put
    earlier money into ``opening_s``).
    """
    run = _Run(items, rules, opening_penalty, opening_compound, opening_s)
    by_day: dict[date, list[Decimal]] = {}
    for on, amount in payments:
        if first_day <= on <= as_of:
            by_day.setdefault(on, []).append(amount)
    changes: set[date] = set(by_day)
    for due in run.dues:
        changes.update((due, due + _DAY, due + timedelta(days=run.grace + 1)))
    change_days = sorted(changes)
    day = first_day - _DAY
    paid_off_on = day if run.paid_off(day) else None
    while day < as_of:
        first = day + _DAY
        idx = bisect_right(change_days, first)
        last = as_of if idx == len(change_days) else min(as_of, change_days[idx] - _DAY)
        for amount in by_day.get(first, ()):
            run.allocate(amount)
        run.accrue(first, (last - first).days + 1)
        run.end_grace(last)
        if paid_off_on is None and run.paid_off(first):
            paid_off_on = first
        day = last

    c = run.coverage(as_of)
    n = len(run.items)
    f = run.first_unpaid(c)
    overdue_end = bisect_left(run.dues, as_of)
    o_int = o_prin = all_int = all_prin = Decimal(0)
    for k in range(f, overdue_end):
        interest, principal = run.unpaid(k, c)
        o_int += interest
        o_prin += principal
    # still owed: a credit balance counts as paying the next installments already
    c_all = min(run.s, run.cum[-1])
    for k in range(run.first_unpaid(c_all), n):
        interest, principal = run.unpaid(k, c_all)
        all_int += interest
        all_prin += principal
    penalty = round2_fraction(run.penalty)
    compound = round2_fraction(run.compound)
    nxt = max(f, overdue_end)
    paid_off = run.paid_off(as_of)
    return TailStatus(
        as_of=as_of,
        dpd=(as_of - run.dues[f]).days if f < overdue_end else 0,
        overdue_interest=round2(o_int),
        overdue_principal=round2(o_prin),
        penalty=penalty,
        compound=compound,
        unpaid_interest=round2(all_int),
        unpaid_principal=round2(all_prin),
        credit_balance=round2(max(Decimal(0), run.s - run.cum[-1])),
        received=run.received,
        penalty_paid=run.penalty_paid,
        compound_paid=run.compound_paid,
        penalty_charged=run.penalty_paid + penalty - opening_penalty,
        compound_charged=run.compound_paid + compound - opening_compound,
        paid_off=paid_off,
        paid_off_on=paid_off_on if paid_off else None,
        next_due_date=run.dues[nxt] if nxt < n else None,
    )
