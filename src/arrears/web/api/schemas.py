"""Request and response bodies of the REST API (pydantic). Money is a decimal string in
major units (``"1234.56"``) next to its currency; times are RFC 3339 with an offset."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from arrears.domain.contacts import Channel, ContactOutcome, DelinquencyReason
from arrears.domain.products import PaymentChannel
from arrears.services.promises import PromisedBy
from arrears.web.api.common import ID_PATTERN, MONEY_PATTERN, money

__all__ = [
    "AccountDetail",
    "AccountList",
    "AccountSummaryOut",
    "BorrowerOut",
    "ContactIn",
    "ContactOut",
    "ContactPersonOut",
    "ImportIssue",
    "ImportOut",
    "LoanOut",
    "LoanStatus",
    "PaymentIn",
    "PaymentOut",
]

Money = Annotated[str, Field(pattern=MONEY_PATTERN, examples=["1234.56"])]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
Instant = Annotated[
    str,
    Field(
        max_length=64,
        description="RFC 3339 with an offset, e.g. 2026-11-28T14:03:00+08:00; no naive times",
        json_schema_extra={"format": "date-time"},
    ),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoanStatus(BaseModel):
    """A loan's status at ``as_of``, computed from the ledger as stored now."""

    loan_id: str
    borrower_id: str
    as_of: date
    currency: str
    dpd: int
    bucket: str
    classification: str
    overdue_principal: Money
    overdue_interest: Money
    accrued_penalty: Money
    accrued_compound: Money
    principal_outstanding: Money
    next_due_date: date | None
    next_due_amount: Money
    credit_balance: Money
    total_due_now: Money
    paid_off: bool

    @classmethod
    def of(cls, row: Mapping[str, Any], currency: str) -> LoanStatus:
        amounts = {
            k.removesuffix("_minor"): money(v) for k, v in row.items() if k.endswith("_minor")
        }
        return cls(
            loan_id=row["loan_id"],
            borrower_id=row["borrower_id"],
            as_of=row["as_of"],
            currency=currency,
            dpd=row["dpd"],
            bucket=row["bucket"],
            classification=row["classification"],
            next_due_date=row["next_due_date"],
            paid_off=row["paid_off"],
            **amounts,
        )


class AccountSummaryOut(BaseModel):
    borrower_id: str
    loans: int = Field(description="loans with a status at the last cycle")
    dpd: int = Field(description="the worst days past due of the account's loans")
    bucket: str | None = Field(description="the bucket of that loan")
    total_due: Money = Field(description="sum of total_due_now of the account's loans")


class AccountList(BaseModel):
    as_of: date | None = Field(description="the last cycle's date (None before any cycle)")
    total: int
    limit: int
    offset: int
    items: list[AccountSummaryOut]


class ContactPersonOut(BaseModel):
    contact_id: str
    name: str | None
    relation: str
    phone: str | None


class BorrowerOut(BaseModel):
    """Personal data masked (ID ``110101********1234``, phone ``138****5678``)."""

    borrower_id: str
    name: str | None
    id_number: str | None
    phone: str | None
    email: str | None
    address: str | None
    city: str | None
    employer: str | None
    assigned_to: str | None
    masked: bool
    contacts: list[ContactPersonOut]


class LoanOut(BaseModel):
    loan_id: str
    product: str
    currency: str
    principal: Money
    annual_rate: str = Field(examples=["0.0435"])
    term_months: int
    start_date: date
    repayment_method: str
    status: LoanStatus | None


class AccountDetail(BaseModel):
    as_of: date
    borrower: BorrowerOut
    loans: list[LoanOut]


class PaymentIn(_In):
    payment_id: Id = Field(description="the sender's id; posting it again is not a new payment")
    loan_id: Id
    paid_at: Instant
    amount: Decimal = Field(
        gt=0,
        max_digits=14,
        decimal_places=2,
        description='major units, at most 2 decimals; a decimal string is safest (`"1234.56"`)',
    )
    channel: PaymentChannel | None = None


class PaymentOut(BaseModel):
    payment_id: str
    loan_id: str
    borrower_id: str
    paid_at: datetime
    paid_on: date = Field(description="the business date in the lender's time zone")
    amount: Money
    currency: str
    channel: str | None
    created: bool = Field(description="false: this payment id was posted before")
    status: LoanStatus = Field(description="the loan's status right after the payment")


class PromiseItemIn(_In):
    due_on: date = Field(description="the promised date (the lender's business date)")
    amount: Money


class PromiseIn(_In):
    """A promise to pay made during the call: one to 12 (date, amount) items, increasing
    dates, from today to 90 days ahead; it replaces the account's open promise."""

    items: list[PromiseItemIn] = Field(min_length=1, max_length=12)
    promised_by: PromisedBy = PromisedBy.BORROWER


class ContactIn(_In):
    borrower_id: Id
    loan_id: Id | None = None
    outcome: ContactOutcome
    channel: Channel = Channel.PHONE
    right_party: bool = False
    reason: DelinquencyReason | None = None
    next_action_on: date | None = None
    at: Instant
    external_id: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="the dialer's call id: posting it again records nothing new",
    )
    remark: str | None = Field(None, max_length=2000, pattern=r"^[^\x00]*$")
    promise: PromiseIn | None = Field(
        None, description="with outcome promise_to_pay only: what was promised"
    )


class ContactOut(BaseModel):
    attempt_id: int
    created: bool
    promise_id: int | None = None
    borrower_id: str
    external_id: str


class ImportIssue(BaseModel):
    file: str
    line: int | None
    field: str | None
    reason: str


class ImportOut(BaseModel):
    run_id: int
    files: list[str]
    borrowers: int
    contacts: int
    loans: int
    installments: int
    payments_seen: int
    payments_new: int
    warnings: list[ImportIssue]
