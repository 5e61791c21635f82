"""Which loans the daily cycle must recompute, and carrying the others forward.

A loan's status as of ``D`` equals its status as of an earlier cycle date ``L`` (with ``as_of``
moved) when nothing about it changed since ``L`` and time alone cannot move it: it was
current (DPD 0), had no accrued penalty or compound interest, and its next due date is after
``D`` (or it has none). Then no installment fell due, nothing accrues and no credit balance is
applied between ``L`` and ``D``. Every other loan is recomputed from its full history.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["carry_forward", "quiet_mask"]


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
