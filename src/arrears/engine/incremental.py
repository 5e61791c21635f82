"""Advancing statuses by days without replaying history (the incremental daily cycle).

Between two events of a loan (a payment, a due date, the day after one, a grace boundary)
only DPD and the accruals move, at a constant rate: the kernel records, with each status, the
exact owed numerators, what each quiet day adds to them and ``quiet_until``, the last day
before the loan's next event. A loan with no payment or change since, whose ``quiet_until``
is on or after the new date, advances arithmetically; every other loan is replayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.domain.products import ProductSettings
from arrears.engine.status import label_rows

__all__ = ["advance"]


def advance(
    previous: pa.Table,
    as_of: date,
    products: Mapping[str, ProductSettings] | None = None,
) -> pa.Table:
    """Statuses as of ``as_of`` from earlier statuses with state, for loans that can advance.

    ``previous`` carries STATE_SCHEMA (``compute_status_table(..., with_state=True)``). The
    caller passes only rows whose loan had no payment or change since and whose
    ``quiet_until >= as_of``: until then nothing but accrual and DPD moves, so
    ``num += per_day × days`` is exact (docs/ledger.md) and no history needs to be read.
    """
    days = np.asarray(
        pc.subtract(
            pa.scalar(as_of, pa.date32()).cast(pa.int32()), previous["as_of"].cast(pa.int32())
        ).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    den = _np(previous["accrual_den"])
    pen_num = _np(previous["penalty_num"]) + _np(previous["penalty_per_day"]) * days
    cmp_num = _np(previous["compound_num"]) + _np(previous["compound_per_day"]) * days
    before = _np(previous["dpd"])
    overdue_rows = before > 0  # DPD 0 stays 0 on quiet days: bucket and class stay too
    dpd = np.where(overdue_rows, before + days, 0)
    pen = (2 * pen_num + den) // (2 * den)
    cmp_ = (2 * cmp_num + den) // (2 * den)
    overdue = _np(previous["overdue_principal"]) + _np(previous["overdue_interest"])
    mask = pa.array(overdue_rows)
    bucket, klass = label_rows(dpd[overdue_rows], previous["product"].filter(mask), products)
    bucket = pc.replace_with_mask(previous["bucket"].combine_chunks(), mask, bucket)
    klass = pc.replace_with_mask(previous["classification"].combine_chunks(), mask, klass)
    changed = {
        "as_of": pa.repeat(pa.scalar(as_of, pa.date32()), previous.num_rows),
        "dpd": pa.array(dpd.astype(np.int32)),
        "bucket": bucket,
        "classification": klass,
        "accrued_penalty": pa.array(pen),
        "accrued_compound": pa.array(cmp_),
        "total_due_now": pa.array(overdue + pen + cmp_),
        "penalty_num": pa.array(pen_num),
        "compound_num": pa.array(cmp_num),
    }
    for name, column in changed.items():
        previous = previous.set_column(previous.schema.get_field_index(name), name, column)
    return previous


def _np(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)
