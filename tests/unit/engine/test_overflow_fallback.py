"""Loans too large for int64 accruals are routed to the scalar domain and merged in order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from arrears.domain.ledger import compute_statuses
from arrears.domain.loans import LoanTerms, Payment
from arrears.domain.money import to_minor
from arrears.domain.products import ProductSettings, RepaymentMethod
from arrears.domain.schedules import schedule_for
from arrears.engine.book import book_from_domain
from arrears.engine.status import MONEY_COLUMNS, compute_status_table


def test_huge_loan_goes_through_the_domain() -> None:
    huge = LoanTerms(
        loan_id="L2",
        borrower_id="B",
        principal=Decimal("90000000000000.00"),
        annual_rate=Decimal("0.2399"),
        term_months=12,
        start_date=date(2025, 1, 15),
        method=RepaymentMethod.EQUAL_PRINCIPAL,
        grace_days=2,
    )
    small = LoanTerms(
        loan_id="L1",
        borrower_id="B",
        principal=Decimal("1000.00"),
        annual_rate=Decimal("0.12"),
        term_months=3,
        start_date=date(2025, 1, 15),
        method=RepaymentMethod.ANNUITY,
    )
    pays = {"L2": [Payment("P", date(2025, 3, 1), Decimal("1000000000.00"))], "L1": []}
    dates = [date(2025, 6, 1), date(2026, 6, 1)]
    table = compute_status_table(book_from_domain([huge, small], pays), dates)
    assert table["loan_id"].to_pylist() == ["L1", "L1", "L2", "L2"]
    want = []
    for ln in (small, huge):
        for s in compute_statuses(
            ln, list(schedule_for(ln)), pays[ln.loan_id], dates, ProductSettings()
        ):
            row = {c: getattr(s, c) for c in table.schema.names}
            for c in MONEY_COLUMNS:
                row[c] = to_minor(row[c])
            want.append(row)
    assert table.to_pylist() == want
