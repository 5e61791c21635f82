"""The daily cycle: statuses for one business date, written to the append-only history.

Incremental: a loan is replayed from its full history when it is new, when its data changed
since the previous cycle (re-imported terms or schedule, a payment recorded since, or a payment
dated after the previous cycle date), or when an event of its own (a due date, the day after
one, a grace boundary) falls in between. Every other loan advances from the exact state stored
with its previous status (``arrears.engine.incremental.advance``): DPD and accruals move, nothing
else can.

Safe to re-run: the whole date is written in one transaction (its rows replaced), so running a
date twice, or killing a run and running it again, leaves the store as one run would.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from arrears.adapters.db.book_store import (
    delete_status,
    read_book,
    read_status,
    write_status_rows,
)
from arrears.adapters.db.tables import cycle_runs, loans, payments
from arrears.domain.errors import ArrearsError
from arrears.domain.products import ProductSettings
from arrears.engine.incremental import advance
from arrears.engine.status import STATE_SCHEMA, STATUS_SCHEMA, compute_status_table
from arrears.jobs.progress import NoProgress, ProgressSink
from arrears.services.plan_overlay import apply_plan_overlay
from arrears.services.plans import settle_plans
from arrears.services.promises import settle_promises
from arrears.services.standing import refresh_standing

__all__ = ["CycleResult", "backfill_history", "run_cycle", "status_from_store"]

_WITH_STATE = pa.schema([*STATUS_SCHEMA, *STATE_SCHEMA])
_EMPTY = _WITH_STATE.empty_table()


@dataclass(frozen=True, slots=True)
class CycleResult:
    as_of: date
    loans_recomputed: int
    loans_carried: int
    seconds: float
    promises: Mapping[str, int] = field(default_factory=dict)  # settled today, by state
    plans: Mapping[str, int] = field(default_factory=dict)  # repayment plans, by new state

    def summary(self) -> str:
        settled = ", ".join(f"{n} {state}" for state, n in sorted(self.promises.items()))
        plans = ", ".join(f"{n} {state}" for state, n in sorted(self.plans.items()))
        return (
            f"cycle {self.as_of.isoformat()}: {self.loans_recomputed} loan(s) replayed from "
            f"their history, {self.loans_carried} advanced from the previous state, "
            f"{self.seconds:.2f} s"
            + (f"; promises settled: {settled}" if settled else "")
            + (f"; repayment plans: {plans}" if plans else "")
        )


def _previous_run(conn: Connection, as_of: date) -> tuple[date, datetime] | None:
    row = conn.execute(
        sa.select(cycle_runs.c.as_of, cycle_runs.c.started_at)
        .where(cycle_runs.c.as_of < as_of, cycle_runs.c.status == "done")
        .order_by(cycle_runs.c.as_of.desc(), cycle_runs.c.started_at.desc())
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def _changed_loans(conn: Connection, last: date, since: datetime, as_of: date) -> set[str]:
    """Loans whose inputs changed after the previous run started, or paid after its date."""
    changed = {
        r[0] for r in conn.execute(sa.select(loans.c.loan_id).where(loans.c.updated_at >= since))
    }
    changed.update(
        r[0]
        for r in conn.execute(
            sa.select(payments.c.loan_id)
            .where(
                sa.or_(
                    payments.c.created_at >= since,
                    sa.and_(payments.c.paid_on > last, payments.c.paid_on <= as_of),
                )
            )
            .distinct()
        )
    )
    return changed


def _all_loan_ids(conn: Connection) -> list[str]:
    return [r[0] for r in conn.execute(sa.select(loans.c.loan_id).order_by(loans.c.loan_id))]


def _plan(conn: Connection, as_of: date, products: Products) -> tuple[list[str], pa.Table]:
    """(loan ids to replay, rows advanced from the previous cycle's state)."""
    all_ids = _all_loan_ids(conn)
    previous = _previous_run(conn, as_of)
    if previous is None:
        return all_ids, _EMPTY
    last, since = previous
    prev = read_status(conn, last, with_state=True)
    changed = _changed_loans(conn, last, since, as_of)
    keep = pc.and_kleene(
        pc.fill_null(pc.greater_equal(prev["quiet_until"], pa.scalar(as_of, pa.date32())), False),
        pc.invert(pc.is_in(prev["loan_id"], value_set=pa.array(sorted(changed), pa.string()))),
    )
    advanced = advance(prev.filter(keep), as_of, products)
    kept_ids = set(advanced["loan_id"].to_pylist())
    return [i for i in all_ids if i not in kept_ids], advanced


def _start_run(conn: Connection, as_of: date, now: datetime) -> int:
    result = conn.execute(
        sa.insert(cycle_runs).values(as_of=as_of, started_at=now, status="running")
    )
    key = result.inserted_primary_key
    assert key is not None  # noqa: S101 - an insert always returns its key
    return int(key[0])


Products = Mapping[str, ProductSettings] | None


def run_cycle(
    engine: Engine,
    as_of: date,
    now: datetime,
    progress: ProgressSink | None = None,
    products: Products = None,
) -> CycleResult:
    """Compute and store the statuses of every loan as of ``as_of`` (one transaction)."""
    progress = progress or NoProgress()
    t0 = time.perf_counter()
    with engine.begin() as conn:
        progress.stage("plan")
        recompute, carried = _plan(conn, as_of, products)
        progress.stage("compute", total=len(recompute))
        fresh = _compute(conn, recompute, [as_of], products)
        progress.advance(len(recompute))
        table = pa.concat_tables([fresh, carried.cast(_WITH_STATE)]).sort_by("loan_id")
        progress.stage("write", total=table.num_rows)
        _store_day(conn, as_of, now, table, recomputed=fresh.num_rows)
        refresh_standing(conn)  # the work queues show the latest cycle's figures
        progress.advance(table.num_rows)
        settled = settle_promises(conn, as_of, now)
        plans = settle_plans(conn, as_of, now)
        apply_plan_overlay(conn, as_of, products)  # plan loans' rows: the plan's figures
        seconds = time.perf_counter() - t0
    return CycleResult(as_of, fresh.num_rows, carried.num_rows, seconds, settled, plans)


def _compute(
    conn: Connection, loan_ids: Sequence[str] | None, days: Sequence[date], products: Products
) -> pa.Table:
    """Statuses of the loans (all when None) that have started by each date."""
    if loan_ids is not None and not loan_ids:
        return _EMPTY
    book = read_book(conn, loan_ids)
    table = compute_status_table(book, days, products, with_state=True).cast(_WITH_STATE)
    return _on_or_after_start(table, book.loans.select(["loan_id", "start_date"]))


def backfill_history(
    engine: Engine,
    days: Sequence[date],
    now: datetime,
    progress: ProgressSink | None = None,
    products: Products = None,
) -> int:
    """History for many past dates, a month of dates per engine pass, each date its own run.

    A loan has rows from its start date on. Returns the number of rows written.
    """
    progress = progress or NoProgress()
    written = 0
    progress.stage("history", total=len(days))
    with engine.begin() as conn:
        book = read_book(conn, None)
        starts = book.loans.select(["loan_id", "start_date"])
        for first in range(0, len(days), _BACKFILL_CHUNK):
            chunk = days[first : first + _BACKFILL_CHUNK]
            table = compute_status_table(book, chunk, products, with_state=True).cast(_WITH_STATE)
            table = _on_or_after_start(table, starts)
            for day in chunk:
                rows = table.filter(pc.equal(table["as_of"], pa.scalar(day, pa.date32())))
                _store_day(conn, day, now, rows, recomputed=rows.num_rows)
                written += rows.num_rows
                progress.advance()
        refresh_standing(conn)
    return written


_BACKFILL_CHUNK = 31


def _on_or_after_start(table: pa.Table, starts: pa.Table) -> pa.Table:
    joined = table.join(starts, "loan_id", join_type="inner")
    kept = joined.filter(pc.greater_equal(joined["as_of"], joined["start_date"]))
    return kept.select(table.column_names).sort_by("loan_id")


def _store_day(conn: Connection, day: date, now: datetime, rows: pa.Table, recomputed: int) -> None:
    """Replace the rows of ``day`` and record a finished cycle run (inside the caller's tx)."""
    run_id = _start_run(conn, day, now)
    delete_status(conn, day)
    write_status_rows(conn, rows, run_id)
    conn.execute(
        sa.update(cycle_runs)
        .where(cycle_runs.c.id == run_id)
        .values(
            status="done",
            loans_recomputed=recomputed,
            loans_carried=rows.num_rows - recomputed,
            finished_at=now,
        )
    )


def status_from_store(engine: Engine, as_of: date, products: Products = None) -> pa.Table:
    """Statuses of the cycle for ``as_of`` if it ran, else computed now (nothing written)."""
    with engine.connect() as conn:
        done = conn.execute(
            sa.select(sa.func.count())
            .select_from(cycle_runs)
            .where(cycle_runs.c.as_of == as_of, cycle_runs.c.status == "done")
        ).scalar_one()
        if done:
            return read_status(conn, as_of)
        if not _all_loan_ids(conn):
            raise ArrearsError("the store holds no loans: import a book first (arrears import DIR)")
        return _compute(conn, None, [as_of], products).select(STATUS_SCHEMA.names)
