"""Spark and DuckDB paths write byte-identical status files from the same book."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from arrears.domain.loans import LoanTerms
from arrears.domain.products import ProductSettings, RepaymentMethod
from arrears.domain.schedules import schedule_for
from arrears.engine.book import read_book_dir
from arrears.engine.status import compute_status_table
from arrears.engine.status_file import write_status

pytestmark = pytest.mark.spark
pyspark = pytest.importorskip("pyspark")

AS_OF = [date(2025, 6, 30), date(2025, 12, 31), date(2026, 3, 15)]
PRODUCTS = {"default": ProductSettings(), "g": ProductSettings(code="g", grace_days=3)}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from arrears.engine.spark import spark_session

    session = spark_session("arrears-test", partitions=3)
    yield session
    session.stop()


def _book(seed: int, n: int = 60) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    borrowers, loans, inst, pays = [], [], [], []
    for b in range(n // 2):
        borrowers.append({"borrower_id": f"B{b}", "name": f"Borrower {b}", "phone": "13800000000"})
    for j in range(n):
        start = date(2024, 9, 1) + timedelta(days=rng.randint(0, 300))
        loan = LoanTerms(
            loan_id=f"L{rng.randint(0, 10**6):07d}-{j}",
            borrower_id=f"B{j // 2}",
            principal=Decimal(rng.randint(50_000, 20_000_000)) / 100,
            annual_rate=Decimal(rng.choice(["0.0435", "0.18", "0", "0.2399"])),
            term_months=rng.randint(1, 24),
            start_date=start,
            method=rng.choice(list(RepaymentMethod)),
            product=rng.choice(["default", "g"]),
        )
        markup = rng.choice(["", "0.3"])
        loans.append(
            {
                "loan_id": loan.loan_id,
                "borrower_id": loan.borrower_id,
                "product": loan.product,
                "principal": str(loan.principal),
                "annual_rate": str(loan.annual_rate),
                "term_months": loan.term_months,
                "start_date": start,
                "repayment_method": str(loan.method),
                "penalty_markup": markup or None,
            }
        )
        sched = schedule_for(loan)
        for i in sched:
            inst.append(
                {
                    "loan_id": loan.loan_id,
                    "seq": i.seq,
                    "due_date": i.due_date,
                    "principal": str(i.principal),
                    "interest": str(i.interest),
                }
            )
        for k in range(rng.randint(0, 10)):
            when = datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(
                days=rng.randint(0, 600), hours=rng.choice([0, 15, 16, 17, 23])
            )
            amt = (sched[0].principal + sched[0].interest) * Decimal(rng.choice([1, 1, 2, 0.5]))
            pays.append(
                {
                    "payment_id": f"{loan.loan_id}-{k}",
                    "loan_id": loan.loan_id,
                    "paid_at": when,
                    "amount": str(amt.quantize(Decimal("0.01"))),
                }
            )
    return {"borrowers": borrowers, "loans": loans, "installments": inst, "payments": pays}


def _write(data: dict[str, list[dict[str, Any]]], folder: Path, fmt: str, with_inst: bool) -> Path:
    folder.mkdir()
    for name, rows in data.items():
        if name == "installments" and not with_inst:
            continue
        t = pa.Table.from_pylist(rows)
        if fmt == "csv":
            if name == "payments":
                t = t.set_column(
                    t.schema.get_field_index("paid_at"),
                    "paid_at",
                    pa.array(
                        [
                            r["paid_at"].astimezone(timezone(timedelta(hours=8))).isoformat()
                            for r in rows
                        ]
                    ),
                )
            pacsv.write_csv(t, folder / f"{name}.csv")
        else:
            for col in ("principal", "interest", "amount"):
                if col in t.column_names:
                    t = t.set_column(
                        t.schema.get_field_index(col),
                        col,
                        pa.array([Decimal(r[col]) for r in rows], pa.decimal128(18, 2)),
                    )
            pq.write_table(t, folder / f"{name}.parquet")
    return folder


@pytest.mark.parametrize(("fmt", "with_inst"), [("csv", False), ("parquet", True)])
def test_spark_status_bytes_equal_duckdb(
    spark: Any, tmp_path: Path, fmt: str, with_inst: bool
) -> None:
    from arrears.engine.spark import read_book_spark, status_spark

    folder = _write(_book(11), tmp_path / "book", fmt, with_inst)
    duck = compute_status_table(read_book_dir(folder), AS_OF, PRODUCTS)
    write_status(duck, tmp_path / "duck.csv")
    loans, inst, pays = read_book_spark(spark, folder)
    assert (inst is not None) == with_inst
    sp = status_spark(loans, inst, pays, AS_OF, PRODUCTS)
    write_status(sp, tmp_path / "spark.csv")
    assert sp.equals(duck)
    assert (tmp_path / "spark.csv").read_bytes() == (tmp_path / "duck.csv").read_bytes()
    assert duck.num_rows == 60 * len(AS_OF)


def test_compute_status_table_engine_spark(spark: Any, tmp_path: Path) -> None:
    folder = _write(_book(5, n=20), tmp_path / "book", "csv", False)
    book = read_book_dir(folder)
    duck = compute_status_table(book, AS_OF, PRODUCTS)
    assert compute_status_table(book, AS_OF, PRODUCTS, engine="spark").equals(duck)
