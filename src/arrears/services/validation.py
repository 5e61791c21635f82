"""Streaming validation of an interchange folder (interchange.md "Import rules").

Every bad row is reported as an ``Issue(file, line, column, reason)``; the first ``cap``
issues are kept, all are counted. Memory stays bounded: only sets of ids are kept in Python;
per-loan installment checks run in a DuckDB staging database that spills to disk.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from arrears.domain.errors import Issue, ValidationError
from arrears.services.interchange_reader import IssueLog, TableSource, open_table
from arrears.services.interchange_rows import SPECS, Record, RowCtx, TableSpec

__all__ = ["StoreView", "ValidationResult", "iter_records", "validate_book"]

CHUNK = 5_000


class StoreView(Protocol):
    """What validation needs to know about the store (ids referenced but not in the files)."""

    def existing_borrowers(self, ids: Collection[str]) -> set[str]: ...

    def loan_principals(self, ids: Collection[str]) -> dict[str, int]: ...


@dataclass
class ValidationResult:
    tables: dict[str, TableSource]
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[Issue] = field(default_factory=list)


def iter_records(src: TableSource, spec: TableSpec, log: IssueLog) -> Iterator[tuple[int, Record]]:
    """Parsed records of a table with their line numbers; bad rows are logged and skipped."""
    for line, _raw, rec in _parsed_rows(src, spec, log):
        if rec is not None:
            yield line, rec


def _parsed_rows(
    src: TableSource, spec: TableSpec, log: IssueLog
) -> Iterator[tuple[int, dict[str, object], Record | None]]:
    missing = frozenset(spec.required - set(src.columns))
    known = spec.known if spec.keeps_attributes else frozenset(src.columns)
    for line, raw in src.rows(log):
        yield line, raw, spec.parse(RowCtx(src.file, line, raw, log, missing), known)


class _RefCheck:
    """References to ids that are not in the files, resolved against the store in chunks."""

    def __init__(self, file: str, column: str, kind: str, log: IssueLog, lookup: Any) -> None:
        self.file, self.column, self.kind, self.log, self.lookup = file, column, kind, log, lookup
        self.pending: list[tuple[int, str]] = []

    def add(self, line: int, ref: str) -> None:
        self.pending.append((line, ref))
        if len(self.pending) >= CHUNK:
            self.flush()

    def flush(self) -> Collection[str]:
        ids = {ref for _, ref in self.pending}
        found: Collection[str] = self.lookup(ids) if ids and self.lookup else set()
        for line, ref in self.pending:
            if ref not in found:
                reason = f"unknown {self.kind} {ref!r}: not in the files nor in the store"
                self.log.add(self.file, line, self.column, reason)
        self.pending.clear()
        return found


class _Validator:
    def __init__(self, folder: Path, store: StoreView | None, log: IssueLog, tmp: Path) -> None:
        self.folder, self.store, self.log = folder, store, log
        self.ids: dict[str, set[str]] = {s.name: set() for s in SPECS}
        self.result = ValidationResult(tables={})
        self.duck = duckdb.connect()
        self.duck.execute(f"SET temp_directory='{tmp}'; SET memory_limit='256MB'")
        self.duck.execute("CREATE TABLE loans (loan_id VARCHAR, principal_minor BIGINT)")
        self.duck.execute(
            "CREATE TABLE inst (loan_id VARCHAR, seq BIGINT, due_date DATE,"
            " principal_minor BIGINT, line BIGINT)"
        )
        # Payment ids are checked for duplicates here, not in a Python set: the payments file
        # is the one that grows without bound, and DuckDB spills to disk.
        self.duck.execute("CREATE TABLE pay_ids (payment_id VARCHAR, line BIGINT)")

    def run(self) -> ValidationResult:
        for spec in SPECS:
            src = open_table(self.folder, spec.name, self.log)
            if src is None:
                if spec.required_file and not self._present(spec.name):
                    self.log.add(
                        f"{spec.name}.csv",
                        None,
                        None,
                        f"required file is missing ({spec.name}.csv or {spec.name}.parquet)",
                    )
                continue
            self.result.tables[spec.name] = src
            self._check_columns(src, spec)
            self.result.rows[spec.name] = self._scan(src, spec)
        if "installments" in self.result.tables:
            self._check_schedules(self.result.tables["installments"].file)
        if "payments" in self.result.tables:
            self._check_duplicate_payments(self.result.tables["payments"].file)
        self.duck.close()
        self.result.warnings = self.log.warnings
        return self.result

    def _present(self, name: str) -> bool:
        """Present but unreadable: ``open_table`` has reported why."""
        return any((self.folder / f"{name}.{ext}").exists() for ext in ("csv", "parquet"))

    def _check_columns(self, src: TableSource, spec: TableSpec) -> None:
        for col in sorted(spec.required - set(src.columns)):
            self.log.add(src.file, 1, col, "required column is missing")
        if not spec.keeps_attributes:
            for col in src.columns:
                if col not in spec.known:
                    self.log.warn(src.file, 1, col, "unknown column ignored")

    def _scan(self, src: TableSource, spec: TableSpec) -> int:
        key = next(iter(sorted(spec.required & {f"{spec.name[:-1]}_id"})), None)
        refs = self._ref_checks(src.file, spec.name)
        staged: list[Record] = []
        rows = 0
        for line, raw, rec in _parsed_rows(src, spec, self.log):
            if rec is None:  # reported; still known, so references to it are not reported too
                if spec.name != "payments":  # nothing refers to payments
                    self._remember(key, raw, self.ids[spec.name])
                continue
            rows += 1
            if key is not None and spec.name != "payments":
                self._check_unique(src.file, line, key, rec[key], self.ids[spec.name])
            self._check_refs(refs, line, rec)
            if spec.name in ("loans", "installments", "payments"):
                staged.append({**rec, "line": line})
                if len(staged) >= CHUNK:
                    self._stage(spec.name, staged)
        for check in refs.values():
            check.flush()
        self._stage(spec.name, staged)
        return rows

    @staticmethod
    def _remember(key: str | None, raw: dict[str, object], seen: set[str]) -> None:
        value = raw.get(key) if key else None
        if isinstance(value, str | int) and not isinstance(value, bool):
            seen.add(str(value).strip())

    def _check_unique(self, file: str, line: int, key: str, value: str, seen: set[str]) -> None:
        if value in seen:
            self.log.add(file, line, key, f"duplicate {key} {value!r}")
        seen.add(value)

    def _ref_checks(self, file: str, name: str) -> dict[str, _RefCheck]:
        lookups = {
            "borrower_id": ("borrowers", self.store.existing_borrowers if self.store else None),
            "loan_id": ("loans", self._store_loans if self.store else None),
        }
        targets = {
            "contacts": ["borrower_id"],
            "loans": ["borrower_id"],
            "installments": ["loan_id"],
            "payments": ["loan_id"],
        }.get(name, [])
        return {
            col: _RefCheck(file, col, col.removesuffix("_id"), self.log, lookups[col][1])
            for col in targets
        }

    def _check_refs(self, refs: dict[str, _RefCheck], line: int, rec: Record) -> None:
        for col, check in refs.items():
            target = self.ids["borrowers" if col == "borrower_id" else "loans"]
            if rec[col] not in target:
                check.add(line, rec[col])

    def _store_loans(self, ids: Collection[str]) -> Collection[str]:
        if self.store is None:
            return set()
        principals = self.store.loan_principals(ids)
        if principals:
            table = pa.table(
                {"loan_id": list(principals), "principal_minor": list(principals.values())}
            )
            self._insert("loans", table)
        return principals.keys()

    def _stage(self, name: str, records: list[Record]) -> None:
        if not records:
            return
        cols, target = ["loan_id", "principal_minor"], "loans"
        if name == "installments":
            cols, target = ["loan_id", "seq", "due_date", "principal_minor", "line"], "inst"
        elif name == "payments":
            cols, target = ["payment_id", "line"], "pay_ids"
        table = pa.table({c: [r[c] for r in records] for c in cols})
        self._insert(target, table)
        records.clear()

    def _check_duplicate_payments(self, file: str) -> None:
        cursor = self.duck.execute(
            "SELECT line, payment_id, first FROM (SELECT line, payment_id, "
            "min(line) OVER (PARTITION BY payment_id) AS first FROM pay_ids) "
            "WHERE line > first ORDER BY line"
        )
        while batch := cursor.fetchmany(1000):
            for line, payment_id, first in batch:
                reason = f"duplicate payment_id {payment_id!r} (first on line {first})"
                self.log.add(file, line, "payment_id", reason)

    def _insert(self, target: str, table: pa.Table) -> None:
        self.duck.register("chunk", table)
        self.duck.execute(f"INSERT INTO {target} SELECT * FROM chunk")  # noqa: S608 - fixed names
        self.duck.unregister("chunk")

    def _check_schedules(self, file: str) -> None:
        for sql, column, reason in _SCHEDULE_CHECKS:
            cursor = self.duck.execute(sql)
            while batch := cursor.fetchmany(1000):
                for row in batch:
                    self.log.add(file, row[0], column, reason(*row[1:]))


def _seq_reason(loan: str, seq: int, expected: int) -> str:
    return f"seq {seq} of loan {loan!r} breaks 1..n without gaps (expected {expected})"


def _due_reason(loan: str, seq: int, due: object, prev: object) -> str:
    return f"due date {due} of loan {loan!r} seq {seq} is not after the previous one ({prev})"


def _sum_reason(loan: str, total: int, principal: int) -> str:
    return (
        f"principals of loan {loan!r} sum to {total / 100:.2f}, "
        f"but the loan principal is {principal / 100:.2f}"
    )


def _dup_reason(loan: str, seq: int) -> str:
    return f"duplicate seq {seq} for loan {loan!r}"


_SCHEDULE_CHECKS: tuple[tuple[str, str, Any], ...] = (
    (
        "SELECT line, loan_id, seq FROM (SELECT *, row_number() OVER"
        " (PARTITION BY loan_id, seq ORDER BY line) AS rn FROM inst) WHERE rn > 1 ORDER BY line",
        "seq",
        _dup_reason,
    ),
    (
        "SELECT min_by(line, seq), loan_id, min(seq), min_by(rn, seq) FROM ("
        " SELECT *, row_number() OVER (PARTITION BY loan_id ORDER BY seq) AS rn FROM ("
        "  SELECT loan_id, seq, min(line) AS line FROM inst GROUP BY loan_id, seq))"
        " WHERE seq <> rn GROUP BY loan_id ORDER BY 1",
        "seq",
        _seq_reason,
    ),
    (
        "SELECT line, loan_id, seq, due_date, prev FROM (SELECT *, lag(due_date) OVER"
        " (PARTITION BY loan_id ORDER BY seq, line) AS prev FROM inst)"
        " WHERE prev IS NOT NULL AND due_date <= prev ORDER BY line",
        "due_date",
        _due_reason,
    ),
    (
        "SELECT min(i.line), i.loan_id, sum(i.principal_minor)::BIGINT, l.principal_minor"
        " FROM inst i JOIN (SELECT loan_id, min(principal_minor) AS principal_minor"
        " FROM loans GROUP BY loan_id) l USING (loan_id)"
        " GROUP BY i.loan_id, l.principal_minor"
        " HAVING sum(i.principal_minor) <> l.principal_minor ORDER BY 1",
        "principal",
        _sum_reason,
    ),
)


def validate_book(
    folder: Path | str, store: StoreView | None = None, *, cap: int = 1000
) -> ValidationResult:
    """Check a whole interchange folder; raise ``ValidationError`` listing every bad row."""
    log = IssueLog(cap=cap)
    with tempfile.TemporaryDirectory(prefix="arrears-validate-") as tmp:
        result = _Validator(Path(folder), store, log, Path(tmp)).run()
    if log.total:
        order = {f"{s.name}.{ext}": i for i, s in enumerate(SPECS) for ext in ("csv", "parquet")}
        issues = sorted(log.kept, key=lambda i: (order.get(i.file, 99), i.line or 0))
        raise ValidationError(issues, total=log.total)
    return result
