"""Payments posted one at a time by a system (the REST API), next to the bulk import.

A payment is validated like a ``payments.csv`` row (interchange.md) and stored in the same
table, so the ledger, the live status and the next cycle see it exactly as an imported one.
Posting the same ``payment_id`` again with the same values is a no-op; with other values it
is a conflict, never a second payment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select

from arrears.adapters.db import tables as t
from arrears.domain.errors import Conflict, Issue, ValidationError
from arrears.domain.money import from_minor
from arrears.domain.people import Actor
from arrears.domain.products import PaymentChannel
from arrears.services.audit import record
from arrears.services.interchange_fields import parse_amount_minor, parse_id, parse_timestamp

__all__ = [
    "MAX_AMOUNT_MINOR",
    "PaymentInput",
    "PostedPayment",
    "check_instant",
    "parse_payment",
    "post_payment",
]

MAX_AMOUNT_MINOR = 99_999_999_999_999  # 999,999,999,999.99: far above any loan, safe in int64
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_SKEW = timedelta(minutes=5)  # a sender's clock may run a little ahead of ours
_SOURCE = "request"


@dataclass(frozen=True, slots=True)
class PaymentInput:
    payment_id: str
    loan_id: str
    paid_at: datetime  # aware
    amount_minor: int
    channel: PaymentChannel | None = None


@dataclass(frozen=True, slots=True)
class PostedPayment:
    payment_id: str
    loan_id: str
    borrower_id: str
    currency: str
    paid_at: datetime  # UTC
    paid_on: Any  # date in the lender's zone
    amount_minor: int
    channel: str | None
    created: bool  # False: this payment was posted before (same values)


def check_instant(value: object, field: str, now: datetime) -> datetime:
    """An aware timestamp between 1970 and ``now`` (plus a little clock skew); else ValueError."""
    ts = parse_timestamp(value)
    if not 1970 <= ts.year <= 9998:
        raise ValueError(f"{field} {ts.isoformat()} is out of range")
    if ts < _EARLIEST:
        raise ValueError(f"{field} {ts.isoformat()} is before 1970")
    if ts > now + _SKEW:
        raise ValueError(f"{field} {ts.isoformat()} is in the future (now {now.isoformat()})")
    return ts


def parse_payment(fields: Mapping[str, object], now: datetime) -> PaymentInput:
    """A payment from request fields (exact values: amounts as Decimal, str or int).

    Raises ValidationError naming every bad field.
    """
    issues: list[Issue] = []
    parsed: dict[str, Any] = {}

    def take(name: str, parse: Any, required: bool = True) -> None:
        value = fields.get(name)
        if value is None:
            if required:
                issues.append(Issue(_SOURCE, None, name, "a value is required"))
            parsed[name] = None
            return
        try:
            parsed[name] = parse(value)
        except ValueError as exc:
            issues.append(Issue(_SOURCE, None, name, str(exc)))

    take("payment_id", _id)
    take("loan_id", _id)
    take("paid_at", lambda v: check_instant(v, "paid_at", now))
    take("amount", _amount)
    take("channel", PaymentChannel, required=False)
    if issues:
        raise ValidationError(issues)
    return PaymentInput(
        parsed["payment_id"],
        parsed["loan_id"],
        parsed["paid_at"],
        parsed["amount"],
        parsed["channel"],
    )


def _id(value: object) -> str:
    text = parse_id(value)
    if not text:
        raise ValueError("an id cannot be empty")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ValueError("an id cannot hold control characters")
    return text


def _amount(value: object) -> int:
    minor = parse_amount_minor(value)
    if minor > MAX_AMOUNT_MINOR:
        raise ValueError(f"amount {from_minor(minor)} is above {from_minor(MAX_AMOUNT_MINOR)}")
    return minor


def post_payment(
    conn: Connection, actor: Actor, payment: PaymentInput, now: datetime, lender_tz: str
) -> PostedPayment:
    """Store ``payment`` (or find it posted before with the same values) and audit it."""
    lo = t.loans
    loan = conn.execute(
        select(lo.c.borrower_id, lo.c.currency, lo.c.start_date).where(
            lo.c.loan_id == payment.loan_id
        )
    ).first()
    if loan is None:
        raise ValidationError([Issue(_SOURCE, None, "loan_id", f"no loan {payment.loan_id!r}")])
    paid_at = payment.paid_at.astimezone(UTC)
    paid_on = payment.paid_at.astimezone(ZoneInfo(lender_tz)).date()
    if paid_on < loan.start_date:
        raise ValidationError(
            [
                Issue(
                    _SOURCE,
                    None,
                    "paid_at",
                    f"paid on {paid_on}, before the loan started ({loan.start_date})",
                )
            ]
        )
    channel = payment.channel.value if payment.channel else None
    posted = PostedPayment(
        payment.payment_id,
        payment.loan_id,
        loan.borrower_id,
        loan.currency,
        paid_at,
        paid_on,
        payment.amount_minor,
        channel,
        created=True,
    )
    p = t.payments
    known = conn.execute(
        select(p.c.loan_id, p.c.paid_at, p.c.amount_minor, p.c.channel).where(
            p.c.payment_id == payment.payment_id
        )
    ).first()
    if known is not None:
        _same_or_conflict(known._mapping, posted)
        return PostedPayment(**{**_fields(posted), "created": False})
    conn.execute(
        insert(p).values(
            payment_id=posted.payment_id,
            loan_id=posted.loan_id,
            paid_at=paid_at,
            paid_on=paid_on,
            amount_minor=posted.amount_minor,
            channel=channel,
            import_run_id=None,
            created_at=now,
        )
    )
    record(
        conn,
        actor,
        "post_payment",
        "borrower",
        posted.borrower_id,
        now,
        detail={
            "payment_id": posted.payment_id,
            "loan_id": posted.loan_id,
            "amount_minor": posted.amount_minor,
            "paid_at": paid_at.isoformat(),
        },
    )
    return posted


def _fields(p: PostedPayment) -> dict[str, Any]:
    return {name: getattr(p, name) for name in PostedPayment.__slots__}


def _same_or_conflict(stored: Any, posted: PostedPayment) -> None:
    differ = [
        name
        for name, ours in (
            ("loan_id", posted.loan_id),
            ("paid_at", posted.paid_at),
            ("amount", posted.amount_minor),
            ("channel", posted.channel),
        )
        if stored["amount_minor" if name == "amount" else name] != ours
    ]
    if differ:
        raise Conflict(
            f"payment {posted.payment_id!r} was posted before with another "
            f"{', '.join(differ)}; a payment id names one payment"
        )
