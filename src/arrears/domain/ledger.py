"""Loan status as of a date: the cumulative-S model of docs/ledger.md.

Installments are laid end to end (``I1 interest, I1 principal, I2 interest, ...``) with
cumulative ends ``CUM[k]``. All money received, less what went to penalty and compound
interest, is one number ``S``; credit is applied only on due dates, so the coverage at the
end of day ``D`` is ``C(D) = min(S, CUM[K(D)])``.

The state is advanced in blocks of days whose daily accrual is identical (no payment, no
due date, no end of grace inside), so the cost grows with events, not with days.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from arrears.domain.delinquency import bucket_for, classification_floor
from arrears.domain.errors import LedgerError
from arrears.domain.loans import Installment, LoanTerms, Payment
from arrears.domain.money import ZERO, round2, round2_fraction
from arrears.domain.products import AllocationStep, ProductSettings
from arrears.domain.schedules import check_schedule
from arrears.domain.status import LoanStatus

__all__ = ["Breakdown", "LedgerState", "compute_status", "compute_statuses"]

_DAY = timedelta(days=1)
_ACCRUAL_STEPS = (AllocationStep.PENALTY, AllocationStep.COMPOUND)


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Where the money received so far went (sums to ``received``)."""

    received: Decimal
    fees_paid: Decimal
    penalty_paid: Decimal
    compound_paid: Decimal
    applied_to_installments: Decimal
    credit_balance: Decimal


@dataclass(frozen=True, slots=True)
class _Book:
    """The fixed inputs of one loan, laid out for the state machine."""

    loan: LoanTerms
    product: ProductSettings
    dues: tuple[date, ...]
    interest: tuple[Decimal, ...]
    principal: tuple[Decimal, ...]
    cum: tuple[Decimal, ...]  # CUM[0..n]
    cum_principal: tuple[Decimal, ...]  # principal of installments 1..k, k = 0..n
    cum_interest: tuple[Decimal, ...]  # interest of installments 1..k, k = 0..n
    daily_rate: Fraction  # penalty_rate / basis
    grace: int
    compound: bool
    accrual_order: tuple[AllocationStep, ...]
    payments: dict[date, tuple[Decimal, ...]]
    change_days: tuple[date, ...]  # days whose accrual may differ from the day before
    grace_ends: dict[date, int]  # due + grace -> installment index (grace > 0 only)
    origin: date  # the day before anything can happen


def _accrual_order(product: ProductSettings) -> tuple[AllocationStep, ...]:
    order = product.allocation_order
    if not order or order[-1] is not AllocationStep.INSTALLMENTS or len(set(order)) != len(order):
        raise LedgerError(
            f"product {product.code}: allocation_order must list each step once and end with "
            f"'installments' (the cumulative ledger model), got {[s.value for s in order]}"
        )
    return tuple(s for s in order if s in _ACCRUAL_STEPS)


def _cumulative(values: Iterable[Decimal]) -> tuple[Decimal, ...]:
    out = [Decimal(0)]
    for v in values:
        out.append(out[-1] + v)
    return tuple(out)


def _group_payments(payments: Sequence[Payment]) -> dict[date, tuple[Decimal, ...]]:
    grouped: dict[date, list[Decimal]] = {}
    for p in payments:
        if p.amount < 0:
            raise LedgerError(f"payment {p.payment_id}: amount {p.amount} is negative")
        grouped.setdefault(p.paid_on, []).append(p.amount)
    return {d: tuple(amounts) for d, amounts in grouped.items()}


def _change_days(dues: Sequence[date], grace: int, pay_days: Iterable[date]) -> tuple[date, ...]:
    days = set(pay_days)
    for due in dues:
        days.update((due, due + _DAY, due + timedelta(days=grace + 1)))
    return tuple(sorted(days))


def _build_book(
    loan: LoanTerms,
    installments: Sequence[Installment],
    payments: Sequence[Payment],
    product: ProductSettings,
) -> _Book:
    ordered = sorted(installments, key=lambda inst: inst.seq)
    check_schedule(loan, ordered)
    markup = loan.penalty_markup if loan.penalty_markup is not None else product.penalty_markup
    grace = loan.grace_days if loan.grace_days is not None else product.grace_days
    if grace < 0 or product.day_count_basis <= 0:
        raise LedgerError(f"loan {loan.loan_id}: grace_days and day_count_basis must be positive")
    dues = tuple(inst.due_date for inst in ordered)
    grouped = _group_payments(payments)
    first_day = min([loan.start_date, dues[0], *grouped])
    return _Book(
        loan=loan,
        product=product,
        dues=dues,
        interest=tuple(inst.interest for inst in ordered),
        principal=tuple(inst.principal for inst in ordered),
        cum=_cumulative(inst.amount for inst in ordered),
        cum_principal=_cumulative(inst.principal for inst in ordered),
        cum_interest=_cumulative(inst.interest for inst in ordered),
        daily_rate=Fraction(loan.annual_rate) * (1 + Fraction(markup)) / product.day_count_basis,
        grace=grace,
        compound=product.compound_on_overdue_interest,
        accrual_order=_accrual_order(product),
        payments=grouped,
        change_days=_change_days(dues, grace, grouped),
        grace_ends={due + timedelta(days=grace): k for k, due in enumerate(dues)} if grace else {},
        origin=first_day - _DAY,
    )


def _settle(rest: Decimal, accrued: Fraction) -> tuple[Decimal, Fraction]:
    """Pay ``round2(accrued)`` from ``rest``: (amount paid, exact accrual left)."""
    owed = round2_fraction(accrued)
    pay = min(rest, owed)
    if pay == owed:
        return pay, Fraction(0)
    return pay, accrued - Fraction(pay)


class LedgerState:
    """One loan's ledger, advanced day by day (in blocks) through ascending dates."""

    def __init__(
        self,
        loan: LoanTerms,
        installments: Sequence[Installment],
        payments: Sequence[Payment],
        product: ProductSettings,
    ) -> None:
        self._book = _build_book(loan, installments, payments, product)
        n = len(self._book.dues)
        self.day: date = self._book.origin  # last day fully processed
        self.s = Decimal(0)
        self.penalty = Fraction(0)  # owed, exact
        self.compound = Fraction(0)  # owed, exact
        self._prov_penalty = [Fraction(0)] * n
        self._prov_compound = [Fraction(0)] * n
        self.received = Decimal(0)
        self.penalty_paid = Decimal(0)
        self.compound_paid = Decimal(0)

    # -- the cumulative model ------------------------------------------------------------

    def coverage(self, d: date) -> Decimal:
        """``C(d) = min(S, CUM[K(d)])``: money applied to installments at the end of ``d``."""
        return min(self.s, self._book.cum[bisect_right(self._book.dues, d)])

    def _first_unpaid(self, c: Decimal) -> int:
        """Index of the first installment not paid in full (``n`` if none)."""
        return bisect_right(self._book.cum, c) - 1

    def _unpaid(self, k: int, c: Decimal) -> tuple[Decimal, Decimal]:
        """Unpaid (interest, principal) of installment index ``k`` given coverage ``c``."""
        b = self._book
        amount = b.interest[k] + b.principal[k]
        covered = min(max(c - b.cum[k], Decimal(0)), amount)
        interest_paid = min(covered, b.interest[k])
        return b.interest[k] - interest_paid, b.principal[k] - (covered - interest_paid)

    def _unpaid_sum(self, lo: int, hi: int, c: Decimal) -> tuple[Decimal, Decimal]:
        """Unpaid (interest, principal) of indices ``lo..hi-1``, ``lo`` >= first unpaid."""
        if lo >= hi:
            return Decimal(0), Decimal(0)
        b = self._book
        interest, principal = self._unpaid(lo, c)  # only `lo` can be partly paid
        interest += b.cum_interest[hi] - b.cum_interest[lo + 1]
        principal += b.cum_principal[hi] - b.cum_principal[lo + 1]
        return interest, principal

    # -- advancing -----------------------------------------------------------------------

    def advance_to(self, target: date) -> None:
        """Process every day through ``target`` inclusive."""
        if target < self.day and self.day != self._book.origin:
            raise ValueError(f"cannot go back from {self.day} to {target}")
        changes = self._book.change_days
        while self.day < target:
            first = self.day + _DAY
            idx = bisect_right(changes, first)
            last = target if idx == len(changes) else min(target, changes[idx] - _DAY)
            self._run_block(first, last)

    def _run_block(self, first: date, last: date) -> None:
        for amount in self._book.payments.get(first, ()):
            self._allocate(amount)
        self._accrue(first, (last - first).days + 1)
        self._end_grace(last)
        self.day = last

    def _allocate(self, amount: Decimal) -> None:
        self.received += amount
        rest = amount
        for step in self._book.accrual_order:
            if step is AllocationStep.PENALTY:
                pay, self.penalty = _settle(rest, self.penalty)
                self.penalty_paid += pay
            else:
                pay, self.compound = _settle(rest, self.compound)
                self.compound_paid += pay
            rest -= pay
        self.s += rest

    def _accrue(self, first: date, days: int) -> None:
        """Accrue ``days`` identical days starting at ``first`` on what is overdue."""
        b = self._book
        c = self.coverage(first)
        f = self._first_unpaid(c)
        overdue_end = bisect_left(b.dues, first)  # installments due before `first`
        # installments due on or after `first - grace` are still in their grace period
        in_grace = bisect_left(b.dues, first - timedelta(days=b.grace)) if b.grace else overdue_end
        rate = b.daily_rate * days
        interest, principal = self._unpaid_sum(f, in_grace, c)
        self.penalty += Fraction(principal) * rate
        if b.compound:
            self.compound += Fraction(interest) * rate
        for k in range(max(f, in_grace), overdue_end):
            interest, principal = self._unpaid(k, c)
            self._prov_penalty[k] += Fraction(principal) * rate
            if b.compound:
                self._prov_compound[k] += Fraction(interest) * rate

    def _end_grace(self, d: date) -> None:
        """At the end of ``due + grace``: provisional accruals become owed unless paid."""
        k = self._book.grace_ends.get(d)
        if k is None:
            return
        if self.coverage(d) < self._book.cum[k + 1]:
            self.penalty += self._prov_penalty[k]
            self.compound += self._prov_compound[k]
        self._prov_penalty[k] = Fraction(0)
        self._prov_compound[k] = Fraction(0)

    # -- answers -------------------------------------------------------------------------

    def breakdown(self) -> Breakdown:
        """Where the money received through the processed day went."""
        c = self.coverage(self.day)
        return Breakdown(
            received=self.received,
            fees_paid=Decimal(0),
            penalty_paid=self.penalty_paid,
            compound_paid=self.compound_paid,
            applied_to_installments=c,
            credit_balance=self.s - c,
        )

    def status(self, as_of: date) -> LoanStatus:
        """Advance through ``as_of`` and report the status at its end."""
        self.advance_to(as_of)
        b = self._book
        n = len(b.dues)
        c = self.coverage(as_of)
        f = self._first_unpaid(c)
        overdue_end = bisect_left(b.dues, as_of)
        dpd = (as_of - b.dues[f]).days if f < overdue_end else 0
        o_interest, o_principal = self._unpaid_sum(f, overdue_end, c)
        outstanding = Decimal(0)
        if f < n:
            outstanding = b.cum_principal[-1] - b.cum_principal[f + 1] + self._unpaid(f, c)[1]
        nxt = max(f, overdue_end)
        next_date = b.dues[nxt] if nxt < n else None
        next_amount = sum(self._unpaid(nxt, c)) if nxt < n else Decimal(0)
        penalty = round2_fraction(self.penalty)
        compound = round2_fraction(self.compound)
        credit = max(Decimal(0), self.s - b.cum[bisect_right(b.dues, as_of)])
        return LoanStatus(
            loan_id=b.loan.loan_id,
            borrower_id=b.loan.borrower_id,
            as_of=as_of,
            dpd=dpd,
            bucket=bucket_for(dpd, b.product),
            classification=classification_floor(dpd, b.product).value,
            overdue_principal=round2(o_principal),
            overdue_interest=round2(o_interest),
            accrued_penalty=penalty,
            accrued_compound=compound,
            principal_outstanding=round2(outstanding),
            next_due_date=next_date,
            next_due_amount=round2(Decimal(next_amount)),
            credit_balance=round2(credit),
            total_due_now=round2(o_principal + o_interest + penalty + compound),
            paid_off=f == n and penalty == ZERO and compound == ZERO,
        )


def compute_status(
    loan: LoanTerms,
    installments: Sequence[Installment],
    payments: Sequence[Payment],
    as_of: date,
    product: ProductSettings,
) -> LoanStatus:
    """The status of ``loan`` at the end of ``as_of``; later payments are ignored."""
    known = [p for p in payments if p.paid_on <= as_of]
    return LedgerState(loan, installments, known, product).status(as_of)


def compute_statuses(
    loan: LoanTerms,
    installments: Sequence[Installment],
    payments: Sequence[Payment],
    as_of_dates: Sequence[date],
    product: ProductSettings,
) -> list[LoanStatus]:
    """``compute_status`` for each of ``as_of_dates`` (ascending) in one pass."""
    for prev, cur in pairwise(as_of_dates):
        if cur < prev:
            raise ValueError(f"as_of_dates must be ascending: {cur} comes after {prev}")
    state = LedgerState(loan, installments, payments, product)
    return [state.status(d) for d in as_of_dates]
