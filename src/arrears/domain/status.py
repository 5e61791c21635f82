"""The status answer for a loan as of a date (loan-math.md "What a status answer holds")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

__all__ = ["STATUS_COLUMNS", "LoanStatus"]

# Column order of status.csv (interchange.md "Output: account status").
STATUS_COLUMNS: tuple[str, ...] = (
    "loan_id",
    "borrower_id",
    "as_of",
    "dpd",
    "bucket",
    "classification",
    "overdue_principal",
    "overdue_interest",
    "accrued_penalty",
    "accrued_compound",
    "principal_outstanding",
    "next_due_date",
    "next_due_amount",
    "credit_balance",
    "total_due_now",
    "paid_off",
)


@dataclass(frozen=True, slots=True)
class LoanStatus:
    loan_id: str
    borrower_id: str
    as_of: date
    dpd: int
    bucket: str
    classification: str
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
