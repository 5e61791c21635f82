"""The status file: interchange.md's ``status.csv`` (or Parquet) from a status table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from arrears.domain.status import STATUS_COLUMNS
from arrears.engine.status import MONEY_COLUMNS

__all__ = ["write_status"]


def _money_text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    v = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)
    a = np.abs(v)
    whole = pc.cast(pa.array(a // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(a % 100), pa.string()), 2, "0")
    txt = pc.binary_join_element_wise(whole, frac, ".")
    sign = pa.array(np.where(v < 0, "-", ""), pa.string())
    out: pa.Array = pc.binary_join_element_wise(sign, txt, "")
    return out


def _csv_field(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """RFC 4180: quote a value only when it holds a comma, a quote or a line break."""
    col = pc.cast(col, pa.string())
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(col, '"', '""'), '"', "")
    out = pc.if_else(pc.match_substring_regex(col, '[",\r\n]'), quoted, col)
    return pc.fill_null(out, "")


def write_status(table: pa.Table, path: str | Path) -> None:
    """Write status.csv exactly as interchange.md says, or Parquet when ``path`` ends .parquet.

    CSV: STATUS_COLUMNS in order, amounts with two decimals, ISO dates, ``true``/``false``,
    an empty next_due_date when there is none, rows sorted by loan_id (then as_of), ``\n``.
    """
    path = Path(path)
    order = pc.sort_indices(table, [("loan_id", "ascending"), ("as_of", "ascending")])
    if not np.array_equal(order.to_numpy(), np.arange(table.num_rows)):
        table = table.take(order)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
        return
    cols: list[pa.Array | pa.ChunkedArray] = []
    for c in STATUS_COLUMNS:
        if c in MONEY_COLUMNS:
            cols.append(_money_text(table[c]))
        elif c == "paid_off":
            cols.append(pc.if_else(table[c], "true", "false"))
        else:
            cols.append(_csv_field(table[c]))
    lines = pc.binary_join_element_wise(*cols, ",") if table.num_rows else pa.array([], pa.string())
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(STATUS_COLUMNS) + "\n")
        for chunk in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
            if len(chunk):
                fh.write("\n".join(chunk.to_pylist()) + "\n")
