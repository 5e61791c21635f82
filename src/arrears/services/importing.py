"""Import an interchange folder into the store: validate everything, then load all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, delete, insert, select, update

from arrears.adapters.clock import SystemClock
from arrears.adapters.db import tables as t
from arrears.adapters.db.bulk import DbStoreView, delete_where_in, insert_ignore, upsert
from arrears.domain.errors import Issue
from arrears.services.interchange_reader import IssueLog
from arrears.services.interchange_rows import SPECS, Record
from arrears.services.schedules import generate_missing_schedules
from arrears.services.validation import ValidationResult, iter_records, validate_book

__all__ = ["Clock", "ImportReport", "import_book"]

CHUNK = 2_000


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class ImportReport:
    run_id: int
    source: str
    started_at: datetime
    finished_at: datetime
    borrowers: int
    contacts: int
    loans: int
    installments: int
    payments_seen: int
    payments_new: int
    warnings: tuple[Issue, ...]

    def summary(self) -> str:
        seconds = (self.finished_at - self.started_at).total_seconds()
        text = (
            f"import #{self.run_id} from {self.source}: {self.borrowers} borrower(s), "
            f"{self.contacts} contact(s), {self.loans} loan(s), {self.installments} "
            f"installment(s), {self.payments_new} new payment(s) of {self.payments_seen} "
            f"({self.payments_seen - self.payments_new} already known), {seconds:.1f} s"
        )
        for warning in self.warnings[:20]:
            text += f"\n  warning: {warning}"
        if len(self.warnings) > 20:
            text += f"\n  ... and {len(self.warnings) - 20} more warning(s)"
        return text


@dataclass
class _Load:
    conn: Connection
    run_id: int
    now: datetime
    zone: ZoneInfo
    payments_new: int = 0
    cleared: set[str] | None = None

    def stamp(self, rows: list[Record]) -> list[Record]:
        for row in rows:
            row.update(created_at=self.now, updated_at=self.now, last_import_run_id=self.run_id)
        return rows

    def borrowers(self, rows: list[Record]) -> None:
        upsert(self.conn, t.borrowers, self.stamp(rows), keep={"created_at"})

    def contacts(self, rows: list[Record]) -> None:
        upsert(self.conn, t.contacts, self.stamp(rows), keep={"created_at"})

    def loans(self, rows: list[Record]) -> None:
        upsert(self.conn, t.loans, self.stamp(rows), keep={"created_at"})

    def installments(self, rows: list[Record]) -> None:
        """A re-imported loan's schedule replaces the stored one."""
        cleared = self.cleared if self.cleared is not None else set()
        fresh = {r["loan_id"] for r in rows} - cleared
        delete_where_in(self.conn, t.installments, "loan_id", sorted(fresh))
        cleared |= fresh
        self.cleared = cleared
        self.conn.execute(insert(t.installments), rows)

    def payments(self, rows: list[Record]) -> None:
        for row in rows:
            row.update(
                paid_on=row["paid_at"].astimezone(self.zone).date(),
                import_run_id=self.run_id,
                created_at=self.now,
            )
        self.payments_new += insert_ignore(self.conn, t.payments, rows)


def import_book(
    engine: Engine,
    folder: Path | str,
    *,
    lender_tz: str = "Asia/Shanghai",
    clock: Clock | None = None,
    cap: int = 1000,
) -> ImportReport:
    """Validate ``folder`` and load it in one transaction.

    Raises ``ValidationError`` (listing every bad row, nothing written) if any row is bad.
    """
    clock = clock or SystemClock(lender_tz)
    folder = Path(folder)
    started = clock.now()
    with engine.begin() as conn:
        result = validate_book(folder, DbStoreView(conn), cap=cap)
        run_id = _start_run(conn, folder, started)
        load = _Load(conn, run_id, started, ZoneInfo(lender_tz))
        _load_all(load, result)
        if "installments" not in result.tables:
            _drop_schedules_of_run(conn, run_id)  # terms may have changed: regenerate
        generated = generate_missing_schedules(conn)
        finished = clock.now()
        report = ImportReport(
            run_id=run_id,
            source=str(folder),
            started_at=started,
            finished_at=finished,
            borrowers=result.rows.get("borrowers", 0),
            contacts=result.rows.get("contacts", 0),
            loans=result.rows.get("loans", 0),
            installments=result.rows.get("installments", 0) + generated,
            payments_seen=result.rows.get("payments", 0),
            payments_new=load.payments_new,
            warnings=tuple(result.warnings),
        )
        _finish_run(conn, report)
    return report


def _load_all(load: _Load, result: ValidationResult) -> None:
    writers: dict[str, Callable[[list[Record]], None]] = {
        "borrowers": load.borrowers,
        "contacts": load.contacts,
        "loans": load.loans,
        "installments": load.installments,
        "payments": load.payments,
    }
    for spec in SPECS:
        src = result.tables.get(spec.name)
        if src is None:
            continue
        records = (rec for _, rec in iter_records(src, spec, IssueLog()))
        for chunk in _chunks(records):
            writers[spec.name](chunk)


def _drop_schedules_of_run(conn: Connection, run_id: int) -> None:
    loans_of_run = select(t.loans.c.loan_id).where(t.loans.c.last_import_run_id == run_id)
    conn.execute(delete(t.installments).where(t.installments.c.loan_id.in_(loans_of_run)))


def _chunks(records: Iterator[Record]) -> Iterator[list[Record]]:
    while chunk := list(islice(records, CHUNK)):
        yield chunk


def _start_run(conn: Connection, folder: Path, started: datetime) -> int:
    result = conn.execute(
        insert(t.import_runs)
        .values(started_at=started, source=str(folder), status="running")
        .returning(t.import_runs.c.id)
    )
    return int(result.scalar_one())


def _finish_run(conn: Connection, report: ImportReport) -> None:
    conn.execute(
        update(t.import_runs)
        .where(t.import_runs.c.id == report.run_id)
        .values(
            finished_at=report.finished_at,
            status="succeeded",
            borrowers=report.borrowers,
            contacts=report.contacts,
            loans=report.loans,
            installments=report.installments,
            payments_seen=report.payments_seen,
            payments_new=report.payments_new,
            warnings=len(report.warnings),
        )
    )
