"""The loan-ordered mirror gives the same book as the interchange files, whole or in part."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from arrears.engine.bench_book import BENCH_PRODUCTS, generate_bench_book
from arrears.engine.book import Book, read_book_dir
from arrears.engine.mirror import read_mirror, write_mirror
from arrears.engine.status import compute_status_table


@pytest.fixture(scope="module")
def book_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_bench_book(tmp_path_factory.mktemp("bench") / "book", loans=1500, seed=11)


def _sorted(book: Book) -> tuple[pa.Table, pa.Table | None, pa.Table]:
    inst = book.installments
    return (
        book.loans.sort_by("loan_id"),
        inst.sort_by([("loan_id", "ascending"), ("seq", "ascending")]) if inst else None,
        book.payments.sort_by([("loan_id", "ascending"), ("payment_id", "ascending")]),
    )


def test_whole_and_subset_equal_the_files(book_folder: Path, tmp_path: Path) -> None:
    book = read_book_dir(book_folder)
    mirror = write_mirror(book, tmp_path / "mirror")
    assert _sorted(read_mirror(mirror)) == _sorted(book)
    ids = book.loans["loan_id"].to_pylist()
    rng = random.Random(3)
    for size in (0, 1, 37, 700):
        wanted = [*rng.sample(ids, size), "NO-SUCH-LOAN"]
        got = read_mirror(mirror, pa.array(wanted))
        expected = read_book_dir(book_folder, loan_ids=pa.array(wanted))
        assert got.loans.num_rows == size
        assert _sorted(got) == _sorted(expected)
        day = date(2026, 11, 28)
        assert compute_status_table(got, [day], BENCH_PRODUCTS).equals(
            compute_status_table(expected, [day], BENCH_PRODUCTS)
        )


def test_book_without_installments(tmp_path: Path) -> None:
    loans = pa.table(
        {
            "loan_id": ["B", "A"],
            "borrower_id": ["b1", "b2"],
            "product": [None, None],
            "principal_minor": [100_000, 50_000],
            "annual_rate": ["0.12", "0.06"],
            "term_months": [3, 6],
            "start_date": [date(2026, 1, 5), date(2026, 2, 1)],
            "method": ["equal_installment", "interest_only"],
            "penalty_markup": [None, None],
            "grace_days": [None, None],
        }
    )
    pays = pa.table(
        {
            "payment_id": ["p2", "p1", "p3"],
            "loan_id": ["B", "A", "B"],
            "paid_on": [date(2026, 3, 1), date(2026, 3, 2), date(2026, 2, 1)],
            "amount_minor": [10, 20, 30],
        }
    )
    book = Book(loans=loans, installments=None, payments=pays)
    mirror = write_mirror(book, tmp_path / "m")
    got = read_mirror(mirror, pa.array(["B"]))
    assert got.installments is None
    assert got.payments["payment_id"].to_pylist() == ["p3", "p2"]
    assert got.loans["loan_id"].to_pylist() == ["B"]


def test_missing_mirror_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no mirror here"):
        read_mirror(tmp_path)
