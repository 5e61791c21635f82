"""Which loans the daily cycle must recompute, and carrying the others forward.

A loan's status as of ``D`` equals its status as of an earlier cycle date ``L`` (with ``as_of``
moved) when nothing about it changed since ``L`` and time alone cannot move it: it was
current (DPD 0), had no accrued penalty or compound interest, and its next due date is after
``D`` (or it has none). Then no installment fell due, nothing accrues and no credit balance is
applied between ``L`` and ``D``. Every other loan is recomputed from its full history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.domain.products import ProductSettings
from arrears.engine.status import label_rows

__all__ = ["advance", "carry_forward", "quiet_mask"]


def quiet_mask(previous: pa.Table, as_of: date) -> pa.ChunkedArray:
    """True where ``previous`` (statuses of one earlier date) still holds on ``as_of``."""
    day = pa.scalar(as_of, pa.date32())
    no_due_by_then = pc.or_kleene(
        pc.is_null(previous["next_due_date"]), pc.greater(previous["next_due_date"], day)
    )
    return pc.and_kleene(
        pc.and_kleene(pc.equal(previous["dpd"], 0), no_due_by_then),
        pc.and_kleene(
            pc.equal(previous["accrued_penalty"], 0), pc.equal(previous["accrued_compound"], 0)
        ),
    )


def carry_forward(previous: pa.Table, as_of: date) -> pa.Table:
    """The same rows with ``as_of`` moved to the new date."""
    index = previous.schema.get_field_index("as_of")
    column = pa.repeat(pa.scalar(as_of, previous.schema.field("as_of").type), previous.num_rows)
    return previous.set_column(index, "as_of", column)


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
    dpd = _np(previous["dpd"])
    dpd = np.where(dpd > 0, dpd + days, 0)
    pen = (2 * pen_num + den) // (2 * den)
    cmp_ = (2 * cmp_num + den) // (2 * den)
    overdue = _np(previous["overdue_principal"]) + _np(previous["overdue_interest"])
    bucket, klass = label_rows(dpd, previous["product"], products)
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
