"""The demo book generator: deterministic, well-formed, realistic enough to demo."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest

from arrears.domain.products import PaymentChannel, RepaymentMethod
from arrears.services.demo_book import BehaviourProfile, DemoBookSummary, write_demo_book

AS_OF = date(2026, 11, 28)
FILES = ("borrowers", "contacts", "loans", "installments", "payments")
AMOUNT = re.compile(r"^\d+\.\d{2}$")
# Generous boxes around each city's urban area (lat_min, lat_max, lon_min, lon_max).
CITY_BOXES = {
    "北京市": (39.70, 40.20, 116.00, 116.80),
    "上海市": (30.90, 31.50, 121.10, 121.90),
    "广州市": (22.80, 23.50, 113.10, 113.60),
    "成都市": (30.40, 30.90, 103.80, 104.30),
}
CITY_CODE_PREFIX = {"北京市": "1101", "上海市": "3101", "广州市": "4401", "成都市": "5101"}


def read(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def id_number_ok(number: str) -> bool:
    """GB 11643-1999: weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11, 10 as X."""
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    total = sum(int(ch) * pow(2, 17 - i, 11) for i, ch in enumerate(number[:17]))
    check = (12 - total % 11) % 11
    return number[17] == ("X" if check == 10 else str(check))


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoBookSummary]:
    folder = tmp_path_factory.mktemp("demo") / "book"
    return folder, write_demo_book(folder, 2000, seed=11, as_of=AS_OF)


def test_the_check_digit_check_knows_a_published_example() -> None:
    assert id_number_ok("11010519491231002X")
    assert not id_number_ok("110105194912310021")


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_demo_book(tmp_path / name, 300, seed=seed, as_of=AS_OF)
    for file in FILES:
        a, b, c = ((tmp_path / n / f"{file}.csv").read_bytes() for n in "abc")
        assert a == b
        assert a != c


def test_summary_counts_the_files(book: tuple[Path, DemoBookSummary]) -> None:
    folder, summary = book
    counts = {name: len(read(folder, name)) for name in FILES}
    assert counts == {
        "borrowers": summary.borrowers,
        "contacts": summary.contacts,
        "loans": summary.loans,
        "installments": summary.installments,
        "payments": summary.payments,
    }
    assert summary.borrowers == 2000
    assert sum(summary.profiles.values()) == summary.loans == len(summary.loan_profiles)


def test_every_id_number_is_well_formed(book: tuple[Path, DemoBookSummary]) -> None:
    folder, _ = book
    rows = read(folder, "borrowers")
    for row in rows:
        number = row["id_number"]
        assert id_number_ok(number), number
        born = datetime.strptime(number[6:14], "%Y%m%d").date()  # noqa: DTZ007 a plain date
        assert date(1965, 1, 1) <= born <= date(2003, 12, 31)
    local = sum(r["id_number"].startswith(CITY_CODE_PREFIX[r["city"]]) for r in rows)
    assert local > len(rows) // 2  # most are registered where they live


def test_every_phone_is_a_valid_mainland_number(book: tuple[Path, DemoBookSummary]) -> None:
    folder, _ = book
    phones = [r["phone"] for r in read(folder, "borrowers")]
    phones += [r["phone"] for r in read(folder, "contacts")]
    for phone in phones:
        parsed = phonenumbers.parse(phone, "CN")
        assert phonenumbers.is_valid_number_for_region(parsed, "CN"), phone
    assert len(set(phones)) == len(phones)


def test_coordinates_lie_in_the_borrowers_city(book: tuple[Path, DemoBookSummary]) -> None:
    folder, _ = book
    seen = set()
    for row in read(folder, "borrowers"):
        lat_min, lat_max, lon_min, lon_max = CITY_BOXES[row["city"]]
        assert lat_min <= float(row["latitude"]) <= lat_max, row
        assert lon_min <= float(row["longitude"]) <= lon_max, row
        assert row["address"].startswith(row["city"])
        seen.add(row["city"])
    assert seen == set(CITY_BOXES)


def test_all_methods_and_profiles_occur(book: tuple[Path, DemoBookSummary]) -> None:
    folder, summary = book
    methods = {r["repayment_method"] for r in read(folder, "loans")}
    assert methods == {m.value for m in RepaymentMethod}
    assert all(summary.profiles[p.value] > 0 for p in BehaviourProfile)
    assert summary.profiles["on_time"] == max(summary.profiles.values())


def test_loans_are_within_the_product_ranges(book: tuple[Path, DemoBookSummary]) -> None:
    folder, _ = book
    ids = {r["borrower_id"] for r in read(folder, "borrowers")}
    for loan in read(folder, "loans"):
        assert loan["borrower_id"] in ids
        assert AMOUNT.match(loan["principal"])
        assert Decimal(1000) <= Decimal(loan["principal"]) <= Decimal(300_000)
        assert Decimal(loan["principal"]) % 1 == 0
        rate = Decimal(loan["annual_rate"])
        assert Decimal("0.0345") <= rate <= Decimal("0.18")
        assert rate == rate.quantize(Decimal("0.0001"))
        term = int(loan["term_months"])
        assert 3 <= term <= (12 if loan["repayment_method"] == "bullet" else 36)
        start = date.fromisoformat(loan["start_date"])
        assert AS_OF - timedelta(days=548) <= start < AS_OF
        assert loan["currency"] == "CNY"


def test_installments_sum_to_the_principal(book: tuple[Path, DemoBookSummary]) -> None:
    folder, _ = book
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in read(folder, "installments"):
        assert AMOUNT.match(row["principal"])
        assert AMOUNT.match(row["interest"])
        sums[row["loan_id"]] += Decimal(row["principal"])
    loans = read(folder, "loans")
    assert sums == {r["loan_id"]: Decimal(r["principal"]) for r in loans}


def test_payments_are_exact_unique_and_not_after_as_of(book: tuple[Path, DemoBookSummary]) -> None:
    folder, _ = book
    starts = {r["loan_id"]: date.fromisoformat(r["start_date"]) for r in read(folder, "loans")}
    payments = read(folder, "payments")
    channels = {c.value for c in PaymentChannel}
    for p in payments:
        paid_at = datetime.fromisoformat(p["paid_at"])
        assert paid_at.utcoffset() == timedelta(hours=8)
        assert starts[p["loan_id"]] < paid_at.date() <= AS_OF
        assert AMOUNT.match(p["amount"]), p
        assert Decimal(p["amount"]) > 0, p
        assert p["channel"] in channels
    assert len({p["payment_id"] for p in payments}) == len(payments)
    assert {p["channel"] for p in payments} == channels


def test_chinese_text_round_trips_through_csv(book: tuple[Path, DemoBookSummary]) -> None:
    folder, _ = book
    cjk = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
    for row in read(folder, "borrowers"):
        assert cjk.match(row["name"]), row["name"]
        assert "区" in row["address"]
    relations = {"spouse", "parent", "child", "relative", "friend", "colleague", "employer",
                 "guarantor", "other"}  # fmt: skip
    for row in read(folder, "contacts"):
        assert cjk.match(row["name"]), row["name"]
        assert row["relation"] in relations
