"""Portfolio figures over status columns."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from arrears.engine.portfolio import by_bucket, by_classification, roll_rates
from arrears.engine.status import STATUS_SCHEMA

D = date(2026, 11, 28)


def _row(loan_id: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "loan_id": loan_id,
        "borrower_id": "B" + loan_id,
        "as_of": date(2026, 11, 20),
        "dpd": 0,
        "bucket": "M0",
        "classification": "normal",
        "overdue_principal": 0,
        "overdue_interest": 0,
        "accrued_penalty": 0,
        "accrued_compound": 0,
        "principal_outstanding": 100_00,
        "next_due_date": date(2026, 12, 5),
        "next_due_amount": 10_00,
        "credit_balance": 0,
        "total_due_now": 0,
        "paid_off": False,
    }
    row.update(kw)
    return row


def _table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=STATUS_SCHEMA)


def test_portfolio_groups_active_loans_only() -> None:
    status = _table(
        [
            _row("a"),
            _row(
                "b",
                dpd=40,
                bucket="M2",
                classification="special_mention",
                overdue_principal=30_00,
                overdue_interest=1_00,
            ),
            _row("c", paid_off=True, principal_outstanding=0),
        ]
    )
    buckets = {r.key: r for r in by_bucket(status)}
    assert (buckets["M0"].loans, buckets["M0"].principal_minor) == (1, 100_00)
    assert (buckets["M2"].loans, buckets["M2"].overdue_minor) == (1, 31_00)
    assert buckets["M6+"].loans == 0
    classes = {r.key: r.loans for r in by_classification(status)}
    assert classes == {
        "normal": 1,
        "special_mention": 1,
        "substandard": 0,
        "doubtful": 0,
        "loss": 0,
    }


def test_roll_rates_follow_each_loan() -> None:
    before = _table(
        [
            _row("cure", dpd=10, bucket="M1"),
            _row("roll", dpd=20, bucket="M1"),
            _row("stay", dpd=5, bucket="M1"),
            _row("pay", dpd=1, bucket="M1"),
            _row("closed", paid_off=True),
        ]
    )
    after = _table(
        [
            _row("cure"),
            _row("roll", dpd=50, bucket="M2"),
            _row("stay", dpd=15, bucket="M1"),
            _row("pay", paid_off=True),
            _row("closed", paid_off=True),
        ]
    )
    m1 = next(r for r in roll_rates(before, after) if r.bucket == "M1")
    assert (m1.loans, m1.cured, m1.rolled, m1.stayed, m1.paid_off) == (4, 1, 1, 1, 1)
    assert m1.roll_rate == 0.25
    m0 = next(r for r in roll_rates(before, after) if r.bucket == "M0")
    assert m0.loans == 0
