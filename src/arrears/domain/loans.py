"""The loan, its installments and its payments as the ledger sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from arrears.domain.products import RepaymentMethod

__all__ = ["Installment", "LoanTerms", "Payment"]


@dataclass(frozen=True, slots=True)
class LoanTerms:
    loan_id: str
    principal: Decimal
    annual_rate: Decimal
    term_months: int
    start_date: date
    method: RepaymentMethod
    borrower_id: str = ""
    product: str = "default"
    currency: str = "CNY"
    penalty_markup: Decimal | None = None  # overrides the product's
    grace_days: int | None = None  # overrides the product's


@dataclass(frozen=True, slots=True)
class Installment:
    seq: int
    due_date: date
    principal: Decimal
    interest: Decimal

    @property
    def amount(self) -> Decimal:
        return self.principal + self.interest


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment, already placed on its business date in the lender's zone."""

    payment_id: str
    paid_on: date
    amount: Decimal
