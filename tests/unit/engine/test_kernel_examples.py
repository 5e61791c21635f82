"""The four worked examples of loan-math.md, through the vectorised engine, to the cent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from arrears.domain.loans import LoanTerms, Payment
from arrears.domain.products import RepaymentMethod
from arrears.engine.book import book_from_domain
from arrears.engine.status import compute_status_table

LOAN = LoanTerms(
    loan_id="L1",
    borrower_id="B1",
    principal=Decimal("100000.00"),
    annual_rate=Decimal("0.0435"),
    term_months=12,
    start_date=date(2026, 1, 31),
    method=RepaymentMethod.ANNUITY,
)


def _status(loan: LoanTerms, pays: list[Payment], *days: date) -> list[dict[str, object]]:
    book = book_from_domain([loan], {loan.loan_id: pays})
    rows: list[dict[str, object]] = compute_status_table(book, list(days)).to_pylist()
    return rows


def test_example_2_nothing_paid() -> None:
    (row,) = _status(LOAN, [], date(2026, 3, 30))
    assert row["dpd"] == 30
    assert row["overdue_principal"] == 816849
    assert row["overdue_interest"] == 36250
    assert row["accrued_penalty"] == 4442
    assert row["accrued_compound"] == 197
    assert row["total_due_now"] == 857738
    assert row["bucket"] == "M1"
    assert row["classification"] == "special_mention"
    assert row["next_due_date"] == date(2026, 3, 31)
    assert row["next_due_amount"] == 853099
    assert row["paid_off"] is False


@pytest.mark.parametrize(
    ("paid_on", "grace", "credit"),
    [(date(2026, 3, 4), None, 6437), (date(2026, 3, 3), 3, 6901), (date(2026, 3, 4), 3, 6437)],
)
def test_example_3_late_payment_and_grace(paid_on: date, grace: int | None, credit: int) -> None:
    loan = LoanTerms(**{**{f: getattr(LOAN, f) for f in LOAN.__slots__}, "grace_days": grace})
    pay = Payment("P1", paid_on, Decimal("8600.00"))
    (row,) = _status(loan, [pay], paid_on)
    assert row["credit_balance"] == credit
    assert row["dpd"] == 0
    assert row["accrued_penalty"] == 0
    assert row["accrued_compound"] == 0
    assert row["total_due_now"] == 0


def test_example_4_partial_payment() -> None:
    pay = Payment("P1", date(2026, 3, 20), Decimal("5000.00"))
    on_day, later = _status(LOAN, [pay], date(2026, 3, 20), date(2026, 3, 30))
    assert on_day["overdue_principal"] == 356037
    assert on_day["overdue_interest"] == 0
    assert later["accrued_penalty"] == 710
    assert later["accrued_compound"] == 0
    assert later["total_due_now"] == 356747
    assert later["dpd"] == 30


def test_paid_off_after_last_due_date() -> None:
    pay = Payment("P1", date(2026, 2, 1), Decimal("200000.00"))
    before, after = _status(LOAN, [pay], date(2026, 12, 30), date(2027, 1, 31))
    assert before["paid_off"] is False
    assert after["paid_off"] is True
    assert after["next_due_date"] is None
    assert after["next_due_amount"] == 0
    assert after["principal_outstanding"] == 0
