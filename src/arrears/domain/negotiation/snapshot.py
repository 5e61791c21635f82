"""What a loan owes when a plan starts: the ledger's state at the opening of day ``D``.

:func:`take_snapshot` runs the ordinary ledger (:class:`arrears.domain.ledger.LedgerState`) on
the payments dated before ``D`` through the end of day ``D − 1`` and splits what is owed into
the components a plan works with (docs/negotiation.md, "Plan arithmetic"):

- ``penalty`` and ``compound``: the accrued penalty and compound interest, ``round2`` of the
  exact owed accruals, exactly as the status answer reports them. Provisional (in-grace)
  accruals are not owed and are not carried into a plan;
- ``items``: every installment not yet paid in full, with its unpaid interest and principal,
  given all money applied so far (``S``) — a credit balance is applied to the next
  installments here, as the ledger would on their due dates. Items due before ``D`` are the
  overdue ones ("due now"); the others are "not yet due". An installment due on ``D − 1`` is
  due now although the status of ``D − 1`` does not count it overdue yet (it would be at the
  end of ``D``).

``total_owed`` = penalty + compound + the unpaid interest and principal of every item: the
whole remaining obligation under the contract (the ledger has no early-payoff interest saving
in v1, so the contractual interest of future installments is part of it).

:class:`Components` is the four-way split used everywhere in the package, and
:class:`AccrualRules` captures the penalty rules of the loan and product so that a plan can be
monitored without the product at hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.ledger import LedgerState
from arrears.domain.loans import Installment, LoanTerms, Payment
from arrears.domain.money import ZERO
from arrears.domain.products import AllocationStep, ProductSettings, RepaymentMethod
from arrears.domain.status import LoanStatus

__all__ = ["AccountSnapshot", "AccrualRules", "Components", "take_snapshot"]

_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Components:
    """An amount split into penalty, compound interest, contractual interest and principal."""

    penalty: Decimal = ZERO
    compound: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.penalty + self.compound + self.interest + self.principal

    @property
    def accruals(self) -> Decimal:
        """Penalty + compound interest."""
        return self.penalty + self.compound

    def __add__(self, other: Components) -> Components:
        return Components(
            self.penalty + other.penalty,
            self.compound + other.compound,
            self.interest + other.interest,
            self.principal + other.principal,
        )

    def __sub__(self, other: Components) -> Components:
        return Components(
            self.penalty - other.penalty,
            self.compound - other.compound,
            self.interest - other.interest,
            self.principal - other.principal,
        )

    def fits_within(self, other: Components) -> bool:
        """Every component is between zero and the same component of ``other``."""
        return all(
            ZERO <= mine <= theirs
            for mine, theirs in zip(self.as_tuple(), other.as_tuple(), strict=True)
        )

    def as_tuple(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        return (self.penalty, self.compound, self.interest, self.principal)

    def take(self, amount: Decimal) -> tuple[Components, Decimal]:
        """Pay ``amount`` against penalty, compound, interest, principal in that order.

        Returns (what was paid per component, what is left of ``amount``).
        """
        rest = amount
        parts: list[Decimal] = []
        for owed in self.as_tuple():
            pay = min(rest, owed)
            parts.append(pay)
            rest -= pay
        return Components(*parts), rest


@dataclass(frozen=True, slots=True)
class AccrualRules:
    """The ordinary penalty rules of a loan (loan-math.md), as resolved from loan + product."""

    annual_rate: Decimal
    penalty_markup: Decimal
    grace_days: int
    day_count_basis: int = 360
    compound_on_overdue_interest: bool = True
    penalty_first: bool = True  # allocation order: penalty before compound interest

    @property
    def daily_rate(self) -> Fraction:
        """``penalty_rate / basis`` with ``penalty_rate = annual_rate × (1 + markup)``."""
        return (
            Fraction(self.annual_rate) * (1 + Fraction(self.penalty_markup)) / self.day_count_basis
        )

    @classmethod
    def of(cls, loan: LoanTerms, product: ProductSettings) -> AccrualRules:
        order = product.allocation_order
        penalty_first = (
            AllocationStep.COMPOUND not in order
            or AllocationStep.PENALTY not in order
            or order.index(AllocationStep.PENALTY) < order.index(AllocationStep.COMPOUND)
        )
        return cls(
            annual_rate=loan.annual_rate,
            penalty_markup=(
                loan.penalty_markup if loan.penalty_markup is not None else product.penalty_markup
            ),
            grace_days=loan.grace_days if loan.grace_days is not None else product.grace_days,
            day_count_basis=product.day_count_basis,
            compound_on_overdue_interest=product.compound_on_overdue_interest,
            penalty_first=penalty_first,
        )


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """A loan at the opening of day ``start`` (= the ledger at the end of ``start − 1``)."""

    loan_id: str
    start: date
    loan_start: date
    method: RepaymentMethod
    rules: AccrualRules
    status: LoanStatus  # the ordinary status answer as of start − 1
    penalty: Decimal
    compound: Decimal
    items: tuple[Installment, ...]  # unpaid parts of the installments, by seq
    unapplied_credit: Decimal  # money beyond every installment (normally 0.00)

    @property
    def overdue_items(self) -> tuple[Installment, ...]:
        return tuple(i for i in self.items if i.due_date < self.start)

    @property
    def future_items(self) -> tuple[Installment, ...]:
        return tuple(i for i in self.items if i.due_date >= self.start)

    @property
    def overdue_interest(self) -> Decimal:
        return sum((i.interest for i in self.overdue_items), ZERO)

    @property
    def overdue_principal(self) -> Decimal:
        return sum((i.principal for i in self.overdue_items), ZERO)

    @property
    def future_interest(self) -> Decimal:
        return sum((i.interest for i in self.future_items), ZERO)

    @property
    def future_principal(self) -> Decimal:
        return sum((i.principal for i in self.future_items), ZERO)

    @property
    def principal_outstanding(self) -> Decimal:
        """All unpaid principal, due or not (a credit balance already applied)."""
        return self.overdue_principal + self.future_principal

    @property
    def due_now(self) -> Components:
        """The amount due now: penalty, compound, overdue interest and principal."""
        return Components(
            self.penalty, self.compound, self.overdue_interest, self.overdue_principal
        )

    @property
    def owed(self) -> Components:
        """Everything owed under the contract (due now + not yet due)."""
        return Components(
            self.penalty,
            self.compound,
            self.overdue_interest + self.future_interest,
            self.principal_outstanding,
        )

    @property
    def total_due_now(self) -> Decimal:
        return self.due_now.total

    @property
    def total_owed(self) -> Decimal:
        return self.owed.total


def take_snapshot(
    loan: LoanTerms,
    installments: Sequence[Installment],
    payments: Sequence[Payment],
    start: date,
    product: ProductSettings,
) -> AccountSnapshot:
    """The loan at the opening of ``start``: payments dated ``start`` or later are ignored."""
    if start <= loan.start_date:
        raise ValidationError(
            [
                Issue(
                    "plan",
                    None,
                    "start",
                    f"a plan must start after the loan's start date {loan.start_date}, got {start}",
                )
            ]
        )
    before = [p for p in payments if p.paid_on < start]
    state = LedgerState(loan, installments, before, product)
    status = state.status(start - _DAY)
    s = state.s
    cum = Decimal(0)
    items: list[Installment] = []
    for inst in sorted(installments, key=lambda i: i.seq):
        covered = min(max(s - cum, Decimal(0)), inst.amount)
        interest_paid = min(covered, inst.interest)
        unpaid_interest = inst.interest - interest_paid
        unpaid_principal = inst.principal - (covered - interest_paid)
        cum += inst.amount
        if unpaid_interest or unpaid_principal:
            items.append(Installment(inst.seq, inst.due_date, unpaid_principal, unpaid_interest))
    return AccountSnapshot(
        loan_id=loan.loan_id,
        start=start,
        loan_start=loan.start_date,
        method=loan.method,
        rules=AccrualRules.of(loan, product),
        status=status,
        penalty=status.accrued_penalty,
        compound=status.accrued_compound,
        items=tuple(items),
        unapplied_credit=max(Decimal(0), s - cum),
    )
