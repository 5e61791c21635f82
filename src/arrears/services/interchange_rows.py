"""Row parsers: one interchange row → one store record (or ``None`` with issues logged).

Shared by validation (first pass) and import (second pass), so both read rows the same way.
Records use the store's column names; money is in minor units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from arrears.domain.products import PaymentChannel, RepaymentMethod
from arrears.services.interchange_fields import (
    parse_amount_minor,
    parse_cn_id_number,
    parse_country,
    parse_currency,
    parse_date,
    parse_decimal,
    parse_id,
    parse_int,
    parse_phone,
    parse_text,
    parse_timestamp,
)
from arrears.services.interchange_reader import IssueLog

__all__ = ["SPECS", "ContactRelation", "Record", "RowCtx", "TableSpec"]

T = TypeVar("T")
Record = dict[str, Any]
DEFAULT_COUNTRY = "CN"


class ContactRelation(StrEnum):
    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    RELATIVE = "relative"
    FRIEND = "friend"
    COLLEAGUE = "colleague"
    EMPLOYER = "employer"
    GUARANTOR = "guarantor"
    OTHER = "other"


class RowCtx:
    """One row being parsed: reads cells, records issues against file/line/column."""

    def __init__(
        self,
        file: str,
        line: int,
        raw: Mapping[str, object],
        log: IssueLog,
        missing: frozenset[str],
    ) -> None:
        self.file, self.line, self.raw, self.log, self.missing = file, line, raw, log, missing
        self.ok = True

    def bad(self, column: str | None, reason: str) -> None:
        self.ok = False
        self.log.add(self.file, self.line, column, reason)

    def req(self, column: str, parse: Callable[[object], T]) -> T | None:
        if column in self.missing:  # already reported once for the header
            self.ok = False
            return None
        value = self.raw.get(column)
        if value is None:
            self.bad(column, "a value is required")
            return None
        return self._parse(column, value, parse)

    def opt(self, column: str, parse: Callable[[object], T], default: T | None = None) -> T | None:
        value = self.raw.get(column)
        return default if value is None else self._parse(column, value, parse)

    def _parse(self, column: str, value: object, parse: Callable[[object], T]) -> T | None:
        try:
            return parse(value)
        except ValueError as exc:
            self.bad(column, str(exc))
            return None

    def attributes(self, known: frozenset[str]) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in self.raw.items() if k not in known and v is not None}


def _jsonable(value: object) -> Any:
    if isinstance(value, str | int | bool):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _enum(kind: type[StrEnum]) -> Callable[[object], str]:
    allowed = [m.value for m in kind]

    def parse(value: object) -> str:
        text = parse_text(value).strip()
        if text not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return parse


def _bounded(low: int, high: int) -> Callable[[object], Decimal]:
    def parse(value: object) -> Decimal:
        number = parse_decimal(value)
        if not low <= number <= high:
            raise ValueError(f"{number} is outside [{low}, {high}]")
        return number

    return parse


def _at_least(low: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        number = parse_int(value)
        if number < low:
            raise ValueError(f"{number} must be ≥ {low}")
        return number

    return parse


def _non_negative_decimal(value: object) -> Decimal:
    number = parse_decimal(value)
    if number < 0:
        raise ValueError(f"{number} must be ≥ 0")
    return number


def _strip(value: object) -> str:
    return parse_text(value).strip()


def parse_borrower(ctx: RowCtx, known: frozenset[str]) -> Record | None:
    country = ctx.opt("country", parse_country) or DEFAULT_COUNTRY
    id_parser = parse_cn_id_number if country == "CN" else _strip
    rec: Record = {
        "borrower_id": ctx.req("borrower_id", parse_id),
        "name": ctx.req("name", _strip),
        "id_number": ctx.opt("id_number", id_parser),
        "phone": ctx.req("phone", partial(parse_phone, region=country)),
        "email": ctx.opt("email", _strip),
        "address": ctx.opt("address", _strip),
        "city": ctx.opt("city", _strip),
        "country": country,
        "latitude": ctx.opt("latitude", _bounded(-90, 90)),
        "longitude": ctx.opt("longitude", _bounded(-180, 180)),
        "employer": ctx.opt("employer", _strip),
        "monthly_income_minor": ctx.opt(
            "monthly_income", partial(parse_amount_minor, allow_zero=True)
        ),
        "attributes": ctx.attributes(known),
    }
    return rec if ctx.ok else None


def parse_contact(ctx: RowCtx, known: frozenset[str]) -> Record | None:
    rec: Record = {
        "contact_id": ctx.req("contact_id", parse_id),
        "borrower_id": ctx.req("borrower_id", parse_id),
        "name": ctx.req("name", _strip),
        "relation": ctx.req("relation", _enum(ContactRelation)),
        "phone": ctx.req("phone", partial(parse_phone, region=DEFAULT_COUNTRY)),
    }
    return rec if ctx.ok else None


def parse_loan(ctx: RowCtx, known: frozenset[str]) -> Record | None:
    rec: Record = {
        "loan_id": ctx.req("loan_id", parse_id),
        "borrower_id": ctx.req("borrower_id", parse_id),
        "product": ctx.opt("product", _strip, "default"),
        "currency": ctx.opt("currency", parse_currency, "CNY"),
        "principal_minor": ctx.req("principal", parse_amount_minor),
        "annual_rate": ctx.req("annual_rate", _non_negative_decimal),
        "term_months": ctx.req("term_months", _at_least(1)),
        "start_date": ctx.req("start_date", parse_date),
        "repayment_method": ctx.req("repayment_method", _enum(RepaymentMethod)),
        "penalty_markup": ctx.opt("penalty_markup", _non_negative_decimal),
        "grace_days": ctx.opt("grace_days", _at_least(0)),
        "attributes": ctx.attributes(known),
    }
    return rec if ctx.ok else None


def parse_installment(ctx: RowCtx, known: frozenset[str]) -> Record | None:
    rec: Record = {
        "loan_id": ctx.req("loan_id", parse_id),
        "seq": ctx.req("seq", _at_least(1)),
        "due_date": ctx.req("due_date", parse_date),
        "principal_minor": ctx.req("principal", partial(parse_amount_minor, allow_zero=True)),
        "interest_minor": ctx.req("interest", partial(parse_amount_minor, allow_zero=True)),
    }
    return rec if ctx.ok else None


def parse_payment(ctx: RowCtx, known: frozenset[str]) -> Record | None:
    rec: Record = {
        "payment_id": ctx.req("payment_id", parse_id),
        "loan_id": ctx.req("loan_id", parse_id),
        "paid_at": ctx.req("paid_at", parse_timestamp),
        "amount_minor": ctx.req("amount", parse_amount_minor),
        "channel": ctx.opt("channel", _enum(PaymentChannel)),
    }
    return rec if ctx.ok else None


RowParser = Callable[[RowCtx, frozenset[str]], Record | None]


@dataclass(frozen=True)
class TableSpec:
    name: str
    required_file: bool
    required: frozenset[str]
    known: frozenset[str]
    keeps_attributes: bool
    parse: RowParser


def _spec(
    name: str, req_file: bool, req: str, opt: str, attrs: bool, parse: RowParser
) -> TableSpec:
    required = frozenset(req.split())
    return TableSpec(name, req_file, required, required | frozenset(opt.split()), attrs, parse)


SPECS: tuple[TableSpec, ...] = (
    _spec(
        "borrowers",
        True,
        "borrower_id name phone",
        "id_number email address city country latitude longitude employer monthly_income",
        True,
        parse_borrower,
    ),
    _spec(
        "contacts", False, "contact_id borrower_id name relation phone", "", False, parse_contact
    ),
    _spec(
        "loans",
        True,
        "loan_id borrower_id principal annual_rate term_months start_date repayment_method",
        "product currency penalty_markup grace_days",
        True,
        parse_loan,
    ),
    _spec(
        "installments",
        False,
        "loan_id seq due_date principal interest",
        "",
        False,
        parse_installment,
    ),
    _spec("payments", False, "payment_id loan_id paid_at amount", "channel", False, parse_payment),
)
