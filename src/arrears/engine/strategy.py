"""Evaluate a strategy for every account at once: status + features in, proposed actions out.

1. Accounts (DuckDB over Arrow): one row per borrower with an unpaid loan — the worst loan
   (highest DPD, then the nearest due date, then loan id) gives dpd, bucket, product and the
   next due date; balance and amount due are summed over the borrower's unpaid loans; the
   features are joined; the arm point is the top 52 bits of sha256(salt + borrower_id), the
   same number ``arrears.domain.strategy.arm_hash`` gives.
2. Segments (numpy masks): per arm, the first segment whose conditions hold wins.
3. Steps: the account's position on the segment's anchor (``due``: dpd when past due, else
   −days to the next due date; ``promise_broken``: days since the promise broke). A step fires
   when one of its offsets lies in ``(position − gap, position]``; ``gap`` is the number of
   days since the strategy last ran (1 on a daily cycle). When the cycle skipped days and
   several offsets were passed, only the most recent day's steps fire (the account gets what
   it is due now; missed reminders are not replayed).
4. One output row per fired step and action (``PROPOSAL_SCHEMA``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.domain.strategy import (
    HASH_BITS,
    NO_CONTACT,
    Anchor,
    Arm,
    Conditions,
    Range,
    Segment,
    Step,
    arm_bounds,
)

__all__ = [
    "FEATURE_SCHEMA",
    "PROPOSAL_SCHEMA",
    "accounts_table",
    "conform_features",
    "evaluate_strategy",
]

FEATURE_SCHEMA = pa.schema(
    [
        ("borrower_id", pa.string()),
        ("city", pa.string()),
        ("product", pa.string()),  # used when the status table has no product column
        ("risk_score", pa.float64()),
        ("promise_status", pa.string()),  # none | open | broken | partly_kept | kept
        ("last_outcome", pa.string()),  # a ContactOutcome value; null: never contacted
        ("days_since_right_party_contact", pa.int32()),  # null: never
        ("days_since_promise_broken", pa.int32()),  # null: no broken promise
        ("days_to_promise", pa.int32()),  # an open promise's next date − as_of; null: none
    ]
)
PROPOSAL_SCHEMA = pa.schema(
    [
        ("borrower_id", pa.string()),
        ("loan_id", pa.string()),
        ("as_of", pa.date32()),
        ("dpd", pa.int32()),
        ("action", pa.string()),
        ("channel", pa.string()),
        ("purpose", pa.string()),
        ("template", pa.string()),
        ("segment", pa.string()),
        ("step", pa.string()),
        ("arm", pa.string()),
        ("strategy", pa.string()),
        ("strategy_version", pa.string()),
        ("reason", pa.string()),
    ]
)
_CATALOGUE = PROPOSAL_SCHEMA.names[4:]


def conform_features(features: pa.Table | None) -> pa.Table:
    """The features with every FEATURE_SCHEMA column (missing ones as nulls), cast."""
    if features is None:
        return FEATURE_SCHEMA.empty_table()
    n = features.num_rows
    cols = [
        features[f.name].cast(f.type) if f.name in features.column_names else pa.nulls(n, f.type)
        for f in FEATURE_SCHEMA
    ]
    return pa.table(cols, schema=FEATURE_SCHEMA)


def accounts_table(status: pa.Table, features: pa.Table | None, as_of: date, salt: str) -> pa.Table:
    """One row per borrower with an unpaid loan: worst loan, sums, features, arm point."""
    feats = conform_features(features)
    product = "s.product" if "product" in status.column_names else "f.product"
    con = duckdb.connect()
    try:
        con.register("status", status)
        con.register("feats", feats)
        day = as_of.isoformat()
        return con.sql(
            f"""
            WITH s AS (
                SELECT *, SUM(principal_outstanding) OVER w AS balance,
                       SUM(total_due_now) OVER w AS amount_due
                FROM status WHERE NOT paid_off
                WINDOW w AS (PARTITION BY borrower_id)
                QUALIFY row_number() OVER (PARTITION BY borrower_id
                    ORDER BY dpd DESC, next_due_date ASC NULLS LAST, loan_id) = 1)
            SELECT s.borrower_id, s.loan_id, s.dpd, s.bucket, {product} AS product,
                   CAST(s.next_due_date - DATE '{day}' AS INTEGER) AS days_to_due,
                   s.balance::BIGINT AS balance, s.amount_due::BIGINT AS amount_due,
                   f.city, f.risk_score, coalesce(f.promise_status, 'none') AS promise_status,
                   coalesce(f.last_outcome, '{NO_CONTACT}') AS last_outcome,
                   f.days_since_right_party_contact, f.days_since_promise_broken,
                   f.days_to_promise,
                   CAST(('0x' || substr(sha256(? || s.borrower_id), 1, {HASH_BITS // 4}))
                        AS BIGINT) AS arm_point
            FROM s LEFT JOIN feats f USING (borrower_id)
            ORDER BY s.borrower_id
            """,  # noqa: S608 - only our own column names and an ISO date
            params=[salt],
        ).to_arrow_table()
    finally:
        con.close()


def _np(col: pa.ChunkedArray | pa.Array, fill: object) -> np.ndarray:
    out: np.ndarray = pc.fill_null(col, fill).to_numpy(zero_copy_only=False)
    return out


class _Columns:
    """The account columns a condition reads, as numpy arrays (nulls made harmless)."""

    def __init__(self, acc: pa.Table) -> None:
        self.n = acc.num_rows
        self.acc = acc
        self.dpd = _np(acc["dpd"], 0).astype(np.int64)
        self.to_due = _np(acc["days_to_due"], 0).astype(np.int64)
        self.has_due = _np(pc.is_valid(acc["days_to_due"]), False)
        self.broken = _np(acc["days_since_promise_broken"], -1).astype(np.int64)
        self.to_promise = _np(acc["days_to_promise"], 0).astype(np.int64)
        self.has_promise = _np(pc.is_valid(acc["days_to_promise"]), False)
        self.rpc = _np(acc["days_since_right_party_contact"], -1).astype(np.int64)

    def range(self, name: str, r: Range) -> np.ndarray:
        col = self.acc[name]
        mask = pc.is_valid(col)
        if r.min is not None:
            mask = pc.and_(mask, pc.greater_equal(col, r.min))
        if r.max is not None:
            mask = pc.and_(mask, pc.less_equal(col, r.max))
        return _np(mask, False).astype(bool)

    def member(self, name: str, values: frozenset[str]) -> np.ndarray:
        found = pc.is_in(self.acc[name], value_set=pa.array(sorted(values), pa.string()))
        return _np(found, False).astype(bool)

    def position(self, anchor: Anchor) -> tuple[np.ndarray, np.ndarray]:
        """(position, valid) on the anchor."""
        if anchor is Anchor.PROMISE_BROKEN:
            return self.broken, self.broken >= 0
        if anchor is Anchor.PROMISE_DUE:
            return -self.to_promise, self.has_promise
        pos = np.where(self.dpd > 0, self.dpd, -self.to_due)
        return pos, (self.dpd > 0) | self.has_due


def _conditions(c: _Columns, cond: Conditions) -> np.ndarray:
    mask = np.ones(c.n, dtype=bool)
    for name in ("dpd", "balance", "amount_due", "risk_score"):
        r = getattr(cond, name)
        if r is not None:
            mask &= c.range(name, r)
    for name, column in (("bucket", "bucket"), ("product", "product"), ("city", "city")):
        values = getattr(cond, name)
        if values is not None:
            mask &= c.member(column, values)
    if cond.promise is not None:
        mask &= c.member("promise_status", frozenset(p.value for p in cond.promise))
    if cond.last_outcome is not None:
        mask &= c.member("last_outcome", cond.last_outcome)
    if cond.no_right_party_contact_days is not None:
        mask &= (c.rpc < 0) | (c.rpc >= cond.no_right_party_contact_days)
    return mask


def _segment_mask(c: _Columns, seg: Segment) -> np.ndarray:
    mask = _conditions(c, seg.conditions)
    if seg.any_of:
        mask &= np.logical_or.reduce([_conditions(c, a) for a in seg.any_of])
    return mask


def _reached(step: Step, pos: np.ndarray, valid: np.ndarray, gap: int) -> np.ndarray:
    """The latest offset of ``step`` in (pos − gap, pos] per row; −2**62 where none."""
    top = pos if step.until is None else np.minimum(pos, step.until)
    last = (
        np.full_like(pos, step.offset)
        if step.every is None
        else top - (top - step.offset) % step.every
    )
    ok = valid & (top >= step.offset) & (last > pos - gap)
    return np.where(ok, last, -(2**62))


def _fire(c: _Columns, rows: np.ndarray, seg: Segment, gap: int) -> list[tuple[int, np.ndarray]]:
    """(step index, rows) of the steps firing for the segment's rows (most recent day only)."""
    pos, valid = c.position(seg.anchor)
    pos, valid = pos[rows], valid[rows]
    reached = np.stack([_reached(s, pos, valid, gap) for s in seg.steps])
    best = reached.max(axis=0)
    hit = (reached == best) & (best > -(2**62))
    return [(k, rows[hit[k]]) for k in range(len(seg.steps)) if hit[k].any()]


def _catalogue_row(arm: Arm, seg: Segment, step: Step, a: int) -> dict[str, str | None]:
    action = step.actions[a]
    channel = None if action.channel is None else action.channel.value
    via = f" by {channel}" if channel else ""
    template = f" ({action.template})" if action.template else ""
    return {
        "action": action.kind.value,
        "channel": channel,
        "purpose": action.purpose.value,
        "template": action.template,
        "segment": seg.name,
        "step": step.label,
        "arm": arm.name,
        "strategy": arm.strategy.name,
        "strategy_version": arm.strategy.version,
        "reason": f"segment {seg.name}, step {step.label}: {action.kind.value}{via}{template}",
    }


def evaluate_strategy(
    arms: Sequence[Arm],
    status: pa.Table,
    features: pa.Table | None,
    as_of: date,
    gap: int = 1,
) -> pa.Table:
    """Proposed actions (PROPOSAL_SCHEMA) for every account of ``status`` on ``as_of``.

    ``arms``: challengers then the champion (``arms_of``); the champion's salt places
    borrowers. ``gap``: days since the strategy last ran (≥ 1).
    """
    if gap < 1:
        raise ValueError("gap must be at least 1 day")
    salt = arms[-1].strategy.salt
    acc = accounts_table(status, features, as_of, salt)
    c = _Columns(acc)
    bounds = np.array(arm_bounds([a.share for a in arms]), dtype=np.int64)
    arm_idx = np.searchsorted(bounds, _np(acc["arm_point"], 0).astype(np.int64), side="right")
    catalogue: list[dict[str, str | None]] = []
    picked: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for j, arm in enumerate(arms):
        free = arm_idx == j
        for seg in arm.strategy.segments:
            rows = np.flatnonzero(free & _segment_mask(c, seg))
            free[rows] = False
            if rows.size == 0:
                continue
            for k, fired in _fire(c, rows, seg, gap):
                for a in range(len(seg.steps[k].actions)):
                    picked.append(fired)
                    codes.append(np.full(fired.size, len(catalogue), dtype=np.int64))
                    catalogue.append(_catalogue_row(arm, seg, seg.steps[k], a))
    return _proposals(acc, as_of, catalogue, picked, codes)


def _proposals(
    acc: pa.Table,
    as_of: date,
    catalogue: list[dict[str, str | None]],
    picked: list[np.ndarray],
    codes: list[np.ndarray],
) -> pa.Table:
    if not picked:
        return PROPOSAL_SCHEMA.empty_table()
    rows = np.concatenate(picked)
    code = np.concatenate(codes)
    order = np.lexsort((code, rows))
    rows, code = rows[order], code[order]
    cat = pa.Table.from_pylist(
        catalogue, schema=pa.schema([PROPOSAL_SCHEMA.field(n) for n in _CATALOGUE])
    )
    base = acc.select(["borrower_id", "loan_id", "dpd"]).take(pa.array(rows))
    extra = cat.take(pa.array(code))
    cols = {
        "borrower_id": base["borrower_id"],
        "loan_id": base["loan_id"],
        "as_of": pa.array(np.full(rows.size, (as_of - date(1970, 1, 1)).days, np.int32)).cast(
            pa.date32()
        ),
        "dpd": base["dpd"],
        **{name: extra[name] for name in _CATALOGUE},
    }
    return pa.table([cols[f.name] for f in PROPOSAL_SCHEMA], schema=PROPOSAL_SCHEMA)
