"""Cell parsers of the interchange format: ID numbers, phones, amounts, dates, timestamps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arrears.services.interchange_fields import (
    cn_id_check_digit,
    parse_amount_minor,
    parse_cn_id_number,
    parse_date,
    parse_phone,
    parse_timestamp,
)
from fixtures.books import cn_id


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),  # the example of GB 11643-1999
        ("44052418800101001", "4"),
        ("11010120000101000", "2"),  # 43 mod 11 = 10 → "2"
    ],
)
def test_check_digit_of_known_numbers(first17: str, check: str) -> None:
    assert cn_id_check_digit(first17) == check


def test_valid_id_number_is_normalised_to_upper_x() -> None:
    assert parse_cn_id_number("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("11010519491231002", "18 characters"),
        ("1101051949123100XX", "18 characters"),
        ("110105194912310021", "check digit is 1, expected X"),
        ("99010519491231002X", "region code 990105"),
        (cn_id("11010519490230002"), "birth date 19490230"),
        (cn_id("11010518000101002"), "before 1900"),
    ],
)
def test_invalid_id_numbers(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_cn_id_number(value)


@given(st.from_regex(r"\A11010119[5-9]\d0[1-9]1\d\d{3}\Z"))
def test_any_single_wrong_check_digit_is_refused(first17: str) -> None:
    good = cn_id(first17)
    assert parse_cn_id_number(good) == good
    for wrong in "0123456789X".replace(good[-1], ""):
        with pytest.raises(ValueError, match="check digit"):
            parse_cn_id_number(first17 + wrong)


@pytest.mark.parametrize(
    ("value", "region", "e164"),
    [
        ("13800138000", "CN", "+8613800138000"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("+86 139 1234 5678", "CN", "+8613912345678"),
        ("010 6552 9988", "CN", "+861065529988"),
        ("+44 20 7946 0958", "CN", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
    ],
)
def test_valid_phones_become_e164(value: str, region: str, e164: str) -> None:
    assert parse_phone(value, region) == e164


@pytest.mark.parametrize("value", ["12345", "1380013800", "phone", "+86 000 0000 0000"])
def test_invalid_phones(value: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        parse_phone(value, "CN")


@pytest.mark.parametrize(
    ("value", "minor"),
    [("1234.56", 123456), ("0.01", 1), ("10", 1000), (Decimal("2.50"), 250), (7, 700)],
)
def test_amounts(value: object, minor: int) -> None:
    assert parse_amount_minor(value) == minor


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0", "> 0"),
        ("-1.00", "> 0"),
        ("1.005", "more than 2 decimal places"),
        ("1,000.00", "thousands"),
        ("1e3", "plain decimal"),
        (12.5, "floating-point"),
        ("abc", "plain decimal"),
    ],
)
def test_bad_amounts(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_amount_minor(value)


def test_zero_allowed_when_asked() -> None:
    assert parse_amount_minor("0.00", allow_zero=True) == 0


def test_dates() -> None:
    assert parse_date("2026-11-28") == date(2026, 11, 28)
    assert parse_date(date(2026, 1, 2)) == date(2026, 1, 2)
    for bad in ("2026-02-30", "20261128", "28/11/2026"):
        with pytest.raises(ValueError, match="date"):
            parse_date(bad)


def test_timestamps_need_an_offset() -> None:
    cst = timezone(timedelta(hours=8))
    assert parse_timestamp("2026-11-28T14:03:00+08:00") == datetime(2026, 11, 28, 14, 3, tzinfo=cst)
    assert parse_timestamp("2026-11-28T06:03:00Z") == datetime(2026, 11, 28, 6, 3, tzinfo=UTC)
    for bad in ("2026-11-28T14:03:00", datetime(2026, 11, 28, 14, 3)):  # noqa: DTZ001
        with pytest.raises(ValueError, match="no UTC offset"):
            parse_timestamp(bad)
    with pytest.raises(ValueError, match="ISO timestamp"):
        parse_timestamp("2026-11-28")
