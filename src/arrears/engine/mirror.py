"""A loan-ordered, memory-mapped copy of a normalised book, for fast per-loan reads.

The incremental cycle replays a tenth of the book each day. Reading those loans from the
interchange files means scanning every installment and payment with a filter; from the
mirror it is a lookup of each loan's row range and a ``take`` over memory-mapped Arrow
arrays. The mirror is written once when the book changes (after an import, or by the
previous day's full run) and read many times.

Layout of a mirror directory (Arrow IPC files, uncompressed so they can be memory-mapped):

- ``loans.arrow``: the loans sorted by ``loan_id`` plus ``inst_start``/``inst_count`` and
  ``pay_start``/``pay_count``, each loan's row range in the two files below;
- ``installments.arrow`` (absent when the book has no installments: schedules are then
  generated), sorted by ``loan_id`` then ``seq``;
- ``payments.arrow``, sorted by ``loan_id`` then ``paid_on``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.engine.book import Book

__all__ = ["read_mirror", "write_mirror"]

_FILES = ("loans.arrow", "installments.arrow", "payments.arrow")


def _ranges(owner_sorted: pa.ChunkedArray, loan_ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Start row and row count of each of ``loan_ids`` (sorted) in a column sorted by loan."""
    idx = pc.index_in(owner_sorted, value_set=loan_ids)
    if idx.null_count:  # pragma: no cover - Book readers refuse rows of unknown loans
        raise ValueError("rows for a loan the book does not have")
    pos = idx.to_numpy().astype(np.int64, copy=False)
    n = len(loan_ids)
    count = np.bincount(pos, minlength=n).astype(np.int64)
    start = np.zeros(n, dtype=np.int64)
    np.cumsum(count[:-1], out=start[1:])
    return start, count


def write_mirror(book: Book, directory: str | Path) -> Path:
    """Write ``book`` as a mirror into ``directory`` (replacing one there); returns the path."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    loans = book.loans.sort_by("loan_id")
    ids = loans["loan_id"].combine_chunks()
    pays = book.payments.sort_by([("loan_id", "ascending"), ("paid_on", "ascending")])
    pay_start, pay_count = _ranges(pays["loan_id"], ids)
    inst_start = np.zeros(len(ids), dtype=np.int64)
    inst_count = np.zeros(len(ids), dtype=np.int64)
    if book.installments is not None:
        inst = book.installments.sort_by([("loan_id", "ascending"), ("seq", "ascending")])
        inst_start, inst_count = _ranges(inst["loan_id"], ids)
        _write(inst, out / "installments.arrow")
    else:
        (out / "installments.arrow").unlink(missing_ok=True)
    loans = (
        loans.append_column("inst_start", pa.array(inst_start))
        .append_column("inst_count", pa.array(inst_count))
        .append_column("pay_start", pa.array(pay_start))
        .append_column("pay_count", pa.array(pay_count))
    )
    _write(pays, out / "payments.arrow")
    _write(loans, out / "loans.arrow")  # last: its presence marks a complete mirror
    return out


def _write(table: pa.Table, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    tmp.replace(path)


def _mapped(path: Path) -> pa.Table:
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()


def _take_ranges(table: pa.Table, start: np.ndarray, count: np.ndarray) -> pa.Table:
    total = int(count.sum())
    if total == 0:
        return table.slice(0, 0)
    # Row indices of the concatenated ranges, without a Python loop.
    first = np.repeat(start - np.concatenate(([0], np.cumsum(count)[:-1])), count)
    return table.take(pa.array(first + np.arange(total, dtype=np.int64)))


def read_mirror(directory: str | Path, loan_ids: pa.Array | None = None) -> Book:
    """The book in a mirror, or only ``loan_ids`` of it (ids it does not hold are ignored)."""
    folder = Path(directory)
    if not (folder / "loans.arrow").exists():
        raise FileNotFoundError(f"{folder}: no mirror here (loans.arrow missing)")
    loans = _mapped(folder / "loans.arrow")
    has_inst = (folder / "installments.arrow").exists()
    pays = _mapped(folder / "payments.arrow")
    inst = _mapped(folder / "installments.arrow") if has_inst else None
    if loan_ids is None:
        return Book(loans=loans, installments=inst, payments=pays)
    wanted = pc.is_in(loans["loan_id"], value_set=pa.array(loan_ids, pa.string()))
    rows = np.flatnonzero(wanted.to_numpy(zero_copy_only=False))
    sub = loans.take(pa.array(rows))

    def col(name: str) -> np.ndarray:
        values: np.ndarray = sub[name].to_numpy()
        return values

    return Book(
        loans=sub,
        installments=(
            _take_ranges(inst, col("inst_start"), col("inst_count")) if inst is not None else None
        ),
        payments=_take_ranges(pays, col("pay_start"), col("pay_count")),
    )
