"""Streaming readers of interchange tables (CSV or Parquet) and the issue log.

Rows come out as ``(line, {column: value})``: for CSV ``line`` is the physical line where
the record starts (the header is line 1); for Parquet it is the 1-based row number.
Empty cells become ``None``. Memory holds one batch at a time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from arrears.domain.errors import Issue

__all__ = ["IssueLog", "TableSource", "open_table"]

BATCH_ROWS = 10_000


@dataclass
class IssueLog:
    """Every issue is counted; the first ``cap`` are kept."""

    cap: int = 1000
    kept: list[Issue] = field(default_factory=list)
    total: int = 0
    warnings: list[Issue] = field(default_factory=list)

    def add(self, file: str, line: int | None, column: str | None, reason: str) -> None:
        self.total += 1
        if len(self.kept) < self.cap:
            self.kept.append(Issue(file, line, column, reason))

    def warn(self, file: str, line: int | None, column: str | None, reason: str) -> None:
        if len(self.warnings) < self.cap:
            self.warnings.append(Issue(file, line, column, reason))


@dataclass(frozen=True)
class TableSource:
    name: str  # e.g. "loans"
    path: Path
    columns: tuple[str, ...]

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def is_parquet(self) -> bool:
        return self.path.suffix == ".parquet"

    def rows(self, log: IssueLog) -> Iterator[tuple[int, dict[str, object]]]:
        return _parquet_rows(self.path) if self.is_parquet else _csv_rows(self, log)


def open_table(folder: Path, name: str, log: IssueLog) -> TableSource | None:
    """The table ``name`` of ``folder`` (``name.csv`` or ``name.parquet``), if present."""
    csv_path, pq_path = folder / f"{name}.csv", folder / f"{name}.parquet"
    if csv_path.exists() and pq_path.exists():
        log.add(csv_path.name, None, None, f"both {name}.csv and {name}.parquet given; keep one")
        return None
    if pq_path.exists():
        try:
            schema = pq.read_schema(pq_path)
        except (pa.ArrowException, OSError) as exc:
            log.add(pq_path.name, None, None, f"not a readable Parquet file: {exc}")
            return None
        return TableSource(name, pq_path, tuple(schema.names))
    if csv_path.exists():
        return _open_csv(csv_path, name, log)
    return None


def _open_csv(path: Path, name: str, log: IssueLog) -> TableSource | None:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        log.add(path.name, 1, None, "the header is not valid UTF-8")
        return None
    if not header:
        log.add(path.name, 1, None, "the file is empty: a header row is required")
        return None
    columns = tuple(c.strip() for c in header)
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    for col in dupes:
        log.add(path.name, 1, col, "column appears more than once in the header")
    return None if dupes else TableSource(name, path, columns)


def _csv_rows(src: TableSource, log: IssueLog) -> Iterator[tuple[int, dict[str, object]]]:
    width = len(src.columns)
    with src.path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        end = reader.line_num
        try:
            for record in reader:
                start, end = end + 1, reader.line_num
                if not record or record == [""]:
                    continue
                if len(record) != width:
                    log.add(src.file, start, None, f"expected {width} fields, found {len(record)}")
                    continue
                yield (
                    start,
                    {
                        c: (v if v.strip() else None)
                        for c, v in zip(src.columns, record, strict=True)
                    },
                )
        except UnicodeDecodeError:
            log.add(src.file, end + 1, None, "not valid UTF-8 (save the file as UTF-8)")
        except csv.Error as exc:
            log.add(src.file, end + 1, None, f"malformed CSV: {exc}")


def _parquet_rows(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    row = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
        for record in batch.to_pylist():
            row += 1
            yield (
                row,
                {
                    k: (None if v is None or (isinstance(v, str) and not v.strip()) else v)
                    for k, v in record.items()
                },
            )
