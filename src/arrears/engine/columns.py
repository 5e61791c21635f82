"""The columns of a status table (money as int64 minor units) and of the carried state."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["MONEY_COLUMNS", "STATE_SCHEMA", "STATUS_SCHEMA"]

MONEY_COLUMNS: tuple[str, ...] = (
    "overdue_principal",
    "overdue_interest",
    "accrued_penalty",
    "accrued_compound",
    "principal_outstanding",
    "next_due_amount",
    "credit_balance",
    "total_due_now",
)
STATUS_SCHEMA = pa.schema(
    [
        ("loan_id", pa.string()),
        ("borrower_id", pa.string()),
        ("as_of", pa.date32()),
        ("dpd", pa.int32()),
        ("bucket", pa.string()),
        ("classification", pa.string()),
    ]
    + [(c, pa.int64()) for c in MONEY_COLUMNS[:5]]
    + [("next_due_date", pa.date32())]
    + [(c, pa.int64()) for c in MONEY_COLUMNS[5:]]
    + [("paid_off", pa.bool_())]
)
# State the incremental cycle carries next to each status row (arrears.engine.incremental).
STATE_SCHEMA = pa.schema(
    [
        ("product", pa.string()),
        ("accrual_den", pa.int64()),
        ("penalty_num", pa.int64()),
        ("compound_num", pa.int64()),
        ("penalty_per_day", pa.int64()),
        ("compound_per_day", pa.int64()),
        ("quiet_until", pa.date32()),
    ]
)
