"""read_book_dir: exact amounts, business dates in the lender's zone, structural refusals."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arrears.domain.errors import ValidationError
from arrears.engine.book import read_book_dir
from arrears.engine.status import compute_status_table
from arrears.engine.status_file import write_status

LOANS = (
    "loan_id,borrower_id,principal,annual_rate,term_months,start_date,repayment_method,"
    "grace_days\nL1,B1,100000.00,0.0435,12,2026-01-31,annuity,\n"
)


def _folder(tmp_path: Path, payments: str, loans: str = LOANS) -> Path:
    (tmp_path / "borrowers.csv").write_text("borrower_id,name,phone\nB1,Li Lei,13800000000\n")
    (tmp_path / "loans.csv").write_text(loans)
    (tmp_path / "payments.csv").write_text("payment_id,loan_id,paid_at,amount\n" + payments)
    return tmp_path


def test_paid_at_is_placed_on_the_lender_date(tmp_path: Path) -> None:
    book = read_book_dir(
        _folder(
            tmp_path, "P1,L1,2026-03-03T16:30:00Z,8600.00\nP2,L1,2026-03-03T23:59:00+08:00,0.01\n"
        )
    )
    assert book.payments["paid_on"].to_pylist() == [date(2026, 3, 4), date(2026, 3, 3)]
    assert book.payments["amount_minor"].to_pylist() == [860000, 1]
    assert book.loans["principal_minor"].to_pylist() == [10000000]
    assert book.loans["grace_days"].to_pylist() == [None]
    table = compute_status_table(book, [date(2026, 3, 4)])
    assert table["credit_balance"].to_pylist() == [6438]  # 64.37 + 0.01


def test_timestamp_without_offset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="paid_at"):
        read_book_dir(_folder(tmp_path, "P1,L1,2026-03-03T16:30:00,8600.00\n"))


def test_three_decimal_amount_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="amount"):
        read_book_dir(_folder(tmp_path, "P1,L1,2026-03-03T16:30:00Z,8600.001\n"))


def test_float_parquet_amount_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "")
    (folder / "payments.csv").unlink()
    pq.write_table(
        pa.table(
            {
                "payment_id": ["P1"],
                "loan_id": ["L1"],
                "paid_at": pa.array([0], pa.timestamp("s", tz="UTC")),
                "amount": [8600.0],
            }
        ),
        folder / "payments.parquet",
    )
    with pytest.raises(ValidationError, match="floating-point"):
        read_book_dir(folder)


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="principal"):
        read_book_dir(_folder(tmp_path, "", loans="loan_id,borrower_id\nL1,B1\n"))


def test_status_csv_format(tmp_path: Path) -> None:
    book = read_book_dir(_folder(tmp_path, ""))
    table = compute_status_table(book, [date(2026, 3, 30), date(2027, 6, 1)])
    write_status(table, tmp_path / "status.csv")
    lines = (tmp_path / "status.csv").read_text().splitlines()
    assert lines[0] == (
        "loan_id,borrower_id,as_of,dpd,bucket,classification,overdue_principal,"
        "overdue_interest,accrued_penalty,accrued_compound,principal_outstanding,"
        "next_due_date,next_due_amount,credit_balance,total_due_now,paid_off"
    )
    assert lines[1] == (
        "L1,B1,2026-03-30,30,M1,special_mention,8168.49,362.50,44.42,1.97,"
        "100000.00,2026-03-31,8530.99,0.00,8577.38,false"
    )
    assert ",,0.00,0.00," in lines[2]  # no next due date once all are due
