"""The vectorised engine equals the scalar domain ledger on random books, to the cent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.domain.ledger import compute_statuses
from arrears.domain.loans import LoanTerms, Payment
from arrears.domain.money import to_minor
from arrears.domain.products import (
    CREDIT_CARD_2011_CLASSIFICATION,
    ProductSettings,
    RepaymentMethod,
)
from arrears.domain.schedules import schedule_for
from arrears.engine.book import Book, book_from_domain
from arrears.engine.status import MONEY_COLUMNS, compute_status_table

PRODUCTS = {
    "default": ProductSettings(),
    "grace": ProductSettings(code="grace", grace_days=5, penalty_markup=Decimal("0.3")),
    "card": ProductSettings(
        code="card",
        day_count_basis=365,
        compound_on_overdue_interest=False,
        classification=CREDIT_CARD_2011_CLASSIFICATION,
        bucket_edges=(0, 29, 59),
        bucket_names=("C", "X", "Y", "Z"),
    ),
}
START = date(2025, 1, 1)


@st.composite
def loans_and_payments(draw: st.DrawFn, idx: int) -> tuple[LoanTerms, list[Payment]]:
    start = START + timedelta(days=draw(st.integers(0, 400)))
    loan = LoanTerms(
        loan_id=f"L{idx:03d}",
        borrower_id=f"B{draw(st.integers(0, 3))}",
        principal=Decimal(draw(st.integers(10_000, 50_000_000))) / 100,
        annual_rate=Decimal(draw(st.sampled_from(["0", "0.0435", "0.12", "0.2399", "0.365"]))),
        term_months=draw(st.integers(1, 18)),
        start_date=start,
        method=draw(st.sampled_from(list(RepaymentMethod))),
        product=draw(st.sampled_from(list(PRODUCTS))),
        penalty_markup=draw(
            st.none() | st.sampled_from([Decimal("0"), Decimal("0.5"), Decimal("0.75")])
        ),
        grace_days=draw(st.none() | st.integers(0, 10) | st.integers(25, 70)),
    )
    sched = schedule_for(loan)
    typical = max(1, to_minor(sched[0].principal + sched[0].interest))
    pays = []
    for j in range(draw(st.integers(0, 8))):
        day = start + timedelta(days=draw(st.integers(-5, 30 * loan.term_months + 60)))
        cents = draw(
            st.sampled_from(
                [typical, typical // 2 + 1, typical * 3, draw(st.integers(1, 2 * typical))]
            )
        )
        pays.append(Payment(f"{loan.loan_id}-P{j}", day, Decimal(cents) / 100))
    return loan, pays


@st.composite
def books(draw: st.DrawFn) -> tuple[list[LoanTerms], dict[str, list[Payment]], list[date], int]:
    n = draw(st.integers(1, 5))
    pairs = [draw(loans_and_payments(i)) for i in range(n)]
    dates = sorted(
        set(
            draw(
                st.lists(
                    st.builds(lambda k: START + timedelta(days=k), st.integers(0, 1000)),
                    min_size=1,
                    max_size=5,
                )
            )
        )
    )
    return (
        [p[0] for p in pairs],
        {p[0].loan_id: p[1] for p in pairs},
        dates,
        draw(st.integers(0, 2**32)),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_engine_equals_domain(
    case: tuple[list[LoanTerms], dict[str, list[Payment]], list[date], int],
) -> None:
    loans, pays, dates, seed = case
    inst = {ln.loan_id: list(schedule_for(ln)) for ln in loans} if seed % 2 else None
    book = book_from_domain(loans, pays, inst)
    # Rows in any order: the engine sorts what it needs.
    rng = np.random.default_rng(seed)
    book = Book(
        book.loans.take(rng.permutation(book.loans.num_rows)),
        None
        if book.installments is None
        else book.installments.take(rng.permutation(book.installments.num_rows)),
        book.payments.take(rng.permutation(book.payments.num_rows)),
    )
    table = compute_status_table(book, dates, PRODUCTS)
    got = table.to_pylist()
    want = []
    for ln in sorted(loans, key=lambda x: x.loan_id):
        for s in compute_statuses(
            ln, list(schedule_for(ln)), pays[ln.loan_id], dates, PRODUCTS[ln.product]
        ):
            row = {c: getattr(s, c) for c in table.schema.names}
            for c in MONEY_COLUMNS:
                row[c] = to_minor(row[c])
            want.append(row)
    assert got == want
