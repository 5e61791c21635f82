"""Parsers of interchange cells (interchange.md). Each raises ``ValueError(reason)``.

A cell is a ``str`` (CSV) or a Python value from Arrow (Parquet). Empty cells are handled
by the caller; parsers only see present values.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import phonenumbers

from arrears.domain.money import to_minor

__all__ = [
    "ID_WEIGHTS",
    "cn_id_check_digit",
    "parse_amount_minor",
    "parse_cn_id_number",
    "parse_country",
    "parse_currency",
    "parse_date",
    "parse_decimal",
    "parse_id",
    "parse_int",
    "parse_phone",
    "parse_text",
    "parse_timestamp",
]

_DECIMAL_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
# GB/T 2260 province-level codes (first two digits); 83 is used by residence permits.
_PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)


def parse_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | float):
        raise ValueError(f"expected text, got {value!r}")
    return str(value)


def parse_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"an id must be text or an integer, got {value!r}")
    text = str(value).strip()
    if len(text) > 64:
        raise ValueError("an id is at most 64 characters")
    return text


def parse_decimal(value: object) -> Decimal:
    """An exact decimal: a decimal string, an Arrow decimal or an integer; never a float."""
    if isinstance(value, float):
        raise ValueError(
            f"binary floating-point value {value!r} refused (not exact): "
            "give a decimal or a decimal string"
        )
    if isinstance(value, bool):
        raise ValueError(f"expected a decimal number, got {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite number")
        return value
    text = str(value).strip()
    if not _DECIMAL_RE.match(text):
        raise ValueError(
            f"{text!r} is not a plain decimal number (like 1234.56, no thousands separators)"
        )
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex guards it
        raise ValueError(f"{text!r} is not a decimal number") from exc


def parse_amount_minor(value: object, *, allow_zero: bool = False) -> int:
    """Minor units of an amount in major units with at most 2 decimals, > 0 (or ≥ 0)."""
    amount = parse_decimal(value)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValueError(f"amount {amount} must be {'≥ 0' if allow_zero else '> 0'}")
    try:
        return to_minor(amount)
    except ValueError as exc:
        raise ValueError(f"amount {amount} has more than 2 decimal places") from exc


def parse_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not _INT_RE.match(text):
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def parse_date(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"expected a date, got a timestamp {value.isoformat()}")
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not _DATE_RE.match(text):
        raise ValueError(f"{text!r} is not an ISO date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid date") from exc


def parse_timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        text = value.strip()
        if not _DATE_RE.match(text[:10]) or len(text) < 16 or text[10] not in "T ":
            raise ValueError(f"{text!r} is not an ISO timestamp (2026-11-28T14:03:00+08:00)")
        try:
            ts = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a valid ISO timestamp") from exc
    else:
        raise ValueError(f"expected a timestamp, got {value!r}")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no UTC offset (write e.g. +08:00 or Z)")
    return ts


def parse_country(value: object) -> str:
    text = parse_text(value).strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise ValueError(f"{text!r} is not an ISO 3166-1 alpha-2 country code")
    return text


def parse_currency(value: object) -> str:
    text = parse_text(value).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise ValueError(f"{text!r} is not an ISO 4217 currency code")
    return text


def cn_id_check_digit(first17: str) -> str:
    """GB 11643-1999 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def parse_cn_id_number(value: object) -> str:
    """A 居民身份证号: 18 characters, region, birth date and GB 11643 check digit."""
    text = parse_text(value).strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", text):
        raise ValueError("a Chinese ID number has 18 characters: 17 digits and a digit or X")
    if text[:2] not in _PROVINCES:
        raise ValueError(f"region code {text[:6]} is not a Chinese administrative division")
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError as exc:
        raise ValueError(f"birth date {text[6:14]} is not a valid date") from exc
    if born.year < 1900:
        raise ValueError(f"birth date {text[6:14]} is before 1900")
    expected = cn_id_check_digit(text[:17])
    if text[17] != expected:
        raise ValueError(f"check digit is {text[17]}, expected {expected} (GB 11643)")
    return text


def parse_phone(value: object, region: str = "CN") -> str:
    """The number in E.164, if valid for ``region`` (or in international form)."""
    text = parse_text(value).strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{text!r} is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{text!r} is not a valid phone number for {region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
