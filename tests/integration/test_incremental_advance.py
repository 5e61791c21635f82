"""Advancing statuses from the carried state equals replaying the whole history.

On a generated book with grace periods, markups and every repayment method: for each loan
with no payment since the state's date and a state quiet through the new date, ``advance``
gives exactly the row the full computation gives, every column.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from arrears.engine.bench_book import BENCH_PRODUCTS, generate_bench_book
from arrears.engine.book import read_book_dir
from arrears.engine.incremental import advance
from arrears.engine.status import STATUS_SCHEMA, compute_status_table


@pytest.fixture(scope="module")
def book_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_bench_book(tmp_path_factory.mktemp("bench") / "book", loans=4000, seed=7)


@pytest.mark.parametrize("start", [date(2026, 9, 3), date(2026, 10, 30)])
def test_advance_equals_replay(book_folder: Path, start: date) -> None:
    book = read_book_dir(book_folder)
    state = compute_status_table(book, [start], BENCH_PRODUCTS, with_state=True)
    advanced_any = 0
    for days in (1, 2, 7, 31):
        day = start + timedelta(days=days)
        paid = pc.filter(
            book.payments["loan_id"],
            pc.and_(
                pc.greater(book.payments["paid_on"], pa.scalar(start, pa.date32())),
                pc.less_equal(book.payments["paid_on"], pa.scalar(day, pa.date32())),
            ),
        )
        eligible = pc.and_kleene(
            pc.greater_equal(state["quiet_until"], pa.scalar(day, pa.date32())),
            pc.invert(pc.is_in(state["loan_id"], value_set=paid.unique())),
        )
        moved = advance(state.filter(eligible), day, BENCH_PRODUCTS)
        full = compute_status_table(book, [day], BENCH_PRODUCTS, with_state=True)
        expected = full.filter(pc.is_in(full["loan_id"], value_set=moved["loan_id"]))
        assert moved.select(STATUS_SCHEMA.names).equals(expected.select(STATUS_SCHEMA.names))
        # The carried state lets the next day advance too.
        state_cols = ["penalty_num", "compound_num", "penalty_per_day", "compound_per_day"]
        assert moved.select(state_cols).equals(expected.select(state_cols))
        overdue = pc.sum(pc.greater(moved["dpd"], 0)).as_py()
        advanced_any += overdue
    assert advanced_any > 100, "overdue loans should advance without a replay"
