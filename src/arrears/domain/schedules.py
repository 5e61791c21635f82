"""Repayment schedules (loan-math.md "Dates" and "Schedules")."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from arrears.domain.errors import LedgerError
from arrears.domain.loans import Installment, LoanTerms
from arrears.domain.money import round2_fraction
from arrears.domain.products import RepaymentMethod

__all__ = ["add_months", "check_schedule", "generate_schedule", "schedule_for"]

# The bullet method's interest is fixed by the spec at ACT/360.
_BULLET_BASIS = 360


def add_months(d: date, k: int) -> date:
    """Same day of month ``k`` months later, clamped to that month's last day."""
    months = d.year * 12 + (d.month - 1) + k
    year, month0 = divmod(months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(d.day, last))


def _validate(principal: Decimal, annual_rate: Decimal, term_months: int) -> None:
    if term_months < 1:
        raise LedgerError(f"term_months must be at least 1, got {term_months}")
    if principal <= 0:
        raise LedgerError(f"principal must be positive, got {principal}")
    if annual_rate < 0:
        raise LedgerError(f"annual_rate must not be negative, got {annual_rate}")


def _annuity_payment(principal: Fraction, i: Fraction, n: int) -> Decimal:
    """``A = round2(P·i·(1+i)^n / ((1+i)^n − 1))``, exact before rounding."""
    if i == 0:
        return round2_fraction(principal / n)
    growth = (1 + i) ** n
    return round2_fraction(principal * i * growth / (growth - 1))


def _amortise(
    principal: Decimal,
    i: Fraction,
    dues: Sequence[date],
    level_principal: Decimal,
    level_payment: Decimal | None,
) -> tuple[Installment, ...]:
    """Declining-balance schedule: annuity (level payment) or equal principal."""
    n = len(dues)
    balance = principal
    out: list[Installment] = []
    for k, due in enumerate(dues, start=1):
        interest = round2_fraction(Fraction(balance) * i)
        if k == n:
            part = balance
        elif level_payment is not None:
            part = level_payment - interest
        else:
            part = level_principal
        if part < 0:
            raise LedgerError(
                f"the schedule rule gives installment {k} a negative principal {part}: "
                f"the principal {principal} is too small for {n} installments"
            )
        out.append(Installment(seq=k, due_date=due, principal=part, interest=interest))
        balance -= part
    return tuple(out)


def generate_schedule(
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    start_date: date,
    method: RepaymentMethod,
) -> tuple[Installment, ...]:
    """The installments of a loan by the spec's table for ``method``."""
    _validate(principal, annual_rate, term_months)
    n = term_months
    i = Fraction(annual_rate) / 12
    dues = [add_months(start_date, k) for k in range(1, n + 1)]
    if method is RepaymentMethod.ANNUITY:
        payment = _annuity_payment(Fraction(principal), i, n)
        return _amortise(principal, i, dues, Decimal(0), payment)
    if method is RepaymentMethod.EQUAL_PRINCIPAL:
        level = round2_fraction(Fraction(principal) / n)
        return _amortise(principal, i, dues, level, None)
    if method is RepaymentMethod.INTEREST_ONLY:
        interest = round2_fraction(Fraction(principal) * i)
        zero = Decimal("0.00")
        return tuple(
            Installment(k, due, principal if k == n else zero, interest)
            for k, due in enumerate(dues, start=1)
        )
    if method is RepaymentMethod.BULLET:
        due = dues[-1]
        days = (due - start_date).days
        interest = round2_fraction(
            Fraction(principal) * Fraction(annual_rate) * days / _BULLET_BASIS
        )
        return (Installment(1, due, principal, interest),)
    raise LedgerError(f"unknown repayment method {method!r}")


def schedule_for(loan: LoanTerms) -> tuple[Installment, ...]:
    """The generated schedule of ``loan`` (used when the lender sends none)."""
    return generate_schedule(
        loan.principal, loan.annual_rate, loan.term_months, loan.start_date, loan.method
    )


def check_schedule(loan: LoanTerms, installments: Sequence[Installment]) -> None:
    """Raise ``LedgerError`` unless ``installments`` is a usable schedule for ``loan``."""
    where = f"loan {loan.loan_id}"
    if not installments:
        raise LedgerError(f"{where}: the schedule has no installments")
    seqs = [inst.seq for inst in installments]
    if seqs != list(range(1, len(installments) + 1)):
        raise LedgerError(
            f"{where}: installment seq must run 1..{len(installments)} in order, got {seqs}"
        )
    for prev, cur in pairwise(installments):
        if cur.due_date <= prev.due_date:
            raise LedgerError(
                f"{where}: due dates must be strictly increasing, installment {cur.seq} "
                f"is due {cur.due_date} but installment {prev.seq} is due {prev.due_date}"
            )
    for inst in installments:
        if inst.principal < 0 or inst.interest < 0:
            raise LedgerError(f"{where}: installment {inst.seq} has a negative amount")
    total = sum((inst.principal for inst in installments), Decimal(0))
    if total != loan.principal:
        raise LedgerError(
            f"{where}: installment principals sum to {total}, "
            f"not the loan principal {loan.principal}"
        )
