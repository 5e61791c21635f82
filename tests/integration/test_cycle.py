"""The daily cycle against a real store (SQLite and PostgreSQL).

Done means: statuses through the store equal the engine on the same folder, after re-imports
and re-runs; incremental cycles equal full recomputation; a killed run leaves nothing behind.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from arrears.adapters.db import book_store
from arrears.adapters.db import tables as t
from arrears.engine.book import read_book_dir
from arrears.engine.status import STATUS_SCHEMA, compute_status_table
from arrears.jobs.cycle import backfill_history, run_cycle, status_from_store
from arrears.services.demo_book import write_demo_book
from arrears.services.importing import import_book
from fixtures.books import good_tables, write_csv_book

NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


def _engine_status(folder: Path, day: date) -> pa.Table:
    """The engine on the folder, for the loans started by ``day`` (the store's history rows)."""
    book = read_book_dir(folder)
    table = compute_status_table(book, [day]).cast(STATUS_SCHEMA).sort_by("loan_id")
    started = {r["loan_id"] for r in book.loans.to_pylist() if r["start_date"] <= day}
    return table.filter(pa.array([i in started for i in table["loan_id"].to_pylist()]))


def _import(engine: Engine, folder: Path, now: datetime = NOW) -> None:
    import_book(engine, folder, clock=FixedClock(now))


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    write_demo_book(folder, borrowers=150, seed=3, as_of=date(2026, 11, 28))
    return folder


def test_store_equals_engine_on_the_same_book(store: Engine, demo_folder: Path) -> None:
    _import(store, demo_folder)
    day = date(2026, 11, 28)
    run_cycle(store, day, now=NOW)
    from_store = status_from_store(store, day)
    expected = _engine_status(demo_folder, day)
    # The store holds loans from their start date on; the demo's loans have all started.
    assert from_store.num_rows == expected.num_rows > 150
    assert from_store.equals(expected)


def test_rerun_and_reimport_change_nothing(store: Engine, demo_folder: Path) -> None:
    day = date(2026, 10, 31)
    _import(store, demo_folder)
    run_cycle(store, day, now=NOW)
    first = status_from_store(store, day)
    _import(store, demo_folder, NOW + timedelta(hours=1))  # same files again
    result = run_cycle(store, day, now=NOW + timedelta(hours=2))
    assert status_from_store(store, day).equals(first)
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.status_history)
            .where(t.status_history.c.as_of == day)
        ).scalar_one()
        payments = conn.execute(sa.select(sa.func.count()).select_from(t.payments)).scalar_one()
    assert rows == first.num_rows == result.loans_recomputed + result.loans_carried
    assert payments == sum(1 for _ in (demo_folder / "payments.csv").open(encoding="utf-8")) - 1


def test_incremental_days_equal_full_recomputation(store: Engine, demo_folder: Path) -> None:
    _import(store, demo_folder)
    start = date(2026, 10, 20)
    carried_any = False
    for k in range(12):
        day = start + timedelta(days=k)
        result = run_cycle(store, day, now=NOW + timedelta(minutes=k))
        carried_any |= result.loans_carried > 0
        assert status_from_store(store, day).equals(_engine_status(demo_folder, day)), day
    assert carried_any, "quiet loans should have been carried forward"


def test_a_late_recorded_payment_is_picked_up(store: Engine, tmp_path: Path) -> None:
    tables = good_tables()
    late = tables["payments"].pop()  # L2's payment, recorded only after the first cycle
    folder = write_csv_book(tmp_path / "book", tables)
    _import(store, folder)
    run_cycle(store, date(2026, 3, 1), now=NOW)
    tables["payments"].append(late)
    folder = write_csv_book(tmp_path / "book", tables)
    _import(store, folder, NOW + timedelta(hours=1))
    run_cycle(store, date(2026, 3, 2), now=NOW + timedelta(hours=2))
    assert status_from_store(store, date(2026, 3, 2)).equals(
        _engine_status(folder, date(2026, 3, 2))
    )


def test_a_killed_run_leaves_nothing_and_a_rerun_completes(
    store: Engine, demo_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import(store, demo_folder)
    day = date(2026, 11, 1)
    real = book_store.write_status_rows

    def crash(conn: sa.Connection, table: pa.Table, run_id: int | None) -> None:
        real(conn, table.slice(0, 10), run_id)
        raise KeyboardInterrupt  # the operator kills the job mid-write

    monkeypatch.setattr("arrears.jobs.cycle.write_status_rows", crash)
    with pytest.raises(KeyboardInterrupt):
        run_cycle(store, day, now=NOW)
    with store.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(t.status_history)).scalar_one() == 0
        )
        assert conn.execute(sa.select(sa.func.count()).select_from(t.cycle_runs)).scalar_one() == 0
    monkeypatch.setattr("arrears.jobs.cycle.write_status_rows", real)
    run_cycle(store, day, now=NOW)
    assert status_from_store(store, day).equals(_engine_status(demo_folder, day))


def test_backfill_equals_daily_cycles(store: Engine, demo_folder: Path) -> None:
    _import(store, demo_folder)
    days = [date(2026, 9, 1) + timedelta(days=k) for k in range(5)]
    backfill_history(store, days, now=NOW)
    with store.connect() as conn:
        backfilled = {d: book_store.read_status(conn, d) for d in days}
    for d in days:
        assert backfilled[d].equals(_engine_status(demo_folder, d)), d


def test_schedules_are_generated_when_none_is_sent(store: Engine, tmp_path: Path) -> None:
    tables = good_tables()
    del tables["installments"]
    folder = write_csv_book(tmp_path / "book", tables)
    report = import_book(store, folder, clock=FixedClock(NOW))
    assert report.installments == 5  # L1: 3 months, L2: 2 months
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.installments.c.seq, t.installments.c.due_date, t.installments.c.principal_minor
            )
            .where(t.installments.c.loan_id == "L2")
            .order_by(t.installments.c.seq)
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, date(2026, 2, 20), 250_000),
        (2, date(2026, 3, 20), 250_000),
    ]
    # Changed terms in a later import without installments: the schedule follows them.
    tables["loans"][1]["term_months"] = "4"
    import_book(store, write_csv_book(tmp_path / "book2", tables), clock=FixedClock(NOW))
    with store.connect() as conn:
        n = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.installments)
            .where(t.installments.c.loan_id == "L2")
        ).scalar_one()
    assert n == 4
    run_cycle(store, date(2026, 3, 1), now=NOW)
    assert status_from_store(store, date(2026, 3, 1)).num_rows == 2
