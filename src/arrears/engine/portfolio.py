"""Portfolio figures over status columns: counts and balances by bucket and class, roll rates.

Inputs are status tables as the engine produces them (money as int64 minor units). DuckDB
queries the Arrow tables in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from arrears.domain.products import DEFAULT_BUCKET_NAMES, Classification

__all__ = ["PortfolioRow", "RollRate", "by_bucket", "by_classification", "roll_rates"]


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    key: str
    loans: int
    principal_minor: int
    overdue_minor: int


@dataclass(frozen=True, slots=True)
class RollRate:
    """Of the loans in ``bucket`` at the earlier date, where they are at the later date."""

    bucket: str
    loans: int
    principal_minor: int
    cured: int  # back to M0 (and not paid off)
    stayed: int
    rolled: int  # to a worse bucket
    improved: int  # to a better bucket other than M0
    paid_off: int

    @property
    def roll_rate(self) -> float:
        return self.rolled / self.loans if self.loans else 0.0


_ACTIVE = "NOT paid_off"


def _group(status: pa.Table, key: str, order: tuple[str, ...]) -> list[PortfolioRow]:
    con = duckdb.connect()
    con.register("status", status)
    rows = con.execute(
        f"SELECT {key}, count(*), sum(principal_outstanding), "  # noqa: S608 - fixed column names
        f"sum(overdue_principal + overdue_interest) FROM status WHERE {_ACTIVE} GROUP BY 1"
    ).fetchall()
    found = {r[0]: r for r in rows}
    return [
        PortfolioRow(k, int(found[k][1]), int(found[k][2]), int(found[k][3]))
        if k in found
        else PortfolioRow(k, 0, 0, 0)
        for k in order
    ]


def by_bucket(
    status: pa.Table, buckets: tuple[str, ...] = DEFAULT_BUCKET_NAMES
) -> list[PortfolioRow]:
    return _group(status, "bucket", buckets)


def by_classification(status: pa.Table) -> list[PortfolioRow]:
    return _group(status, "classification", tuple(c.value for c in Classification))


def roll_rates(
    before: pa.Table, after: pa.Table, buckets: tuple[str, ...] = DEFAULT_BUCKET_NAMES
) -> list[RollRate]:
    """Bucket-to-bucket movement of the loans active at ``before`` (joined by loan_id)."""
    rank = pa.table({"bucket": list(buckets), "rank": list(range(len(buckets)))})
    con = duckdb.connect()
    for name, table in (("before_", before), ("after_", after), ("ranks", rank)):
        con.register(name, table)
    rows = con.execute(
        """
        SELECT b.bucket,
               count(*),
               sum(b.principal_outstanding),
               count(*) FILTER (WHERE NOT a.paid_off AND a.bucket = ? AND b.bucket <> ?),
               count(*) FILTER (WHERE NOT a.paid_off AND a.bucket = b.bucket),
               count(*) FILTER (WHERE NOT a.paid_off AND ra.rank > rb.rank),
               count(*) FILTER (WHERE NOT a.paid_off AND ra.rank < rb.rank AND a.bucket <> ?),
               count(*) FILTER (WHERE a.paid_off)
        FROM before_ b
        JOIN after_ a USING (loan_id)
        JOIN ranks rb ON rb.bucket = b.bucket
        JOIN ranks ra ON ra.bucket = a.bucket
        WHERE NOT b.paid_off
        GROUP BY b.bucket
        """,
        [buckets[0], buckets[0], buckets[0]],
    ).fetchall()
    found = {r[0]: r for r in rows}
    out = []
    for name in buckets:
        r = found.get(name)
        if r is None:
            out.append(RollRate(name, 0, 0, 0, 0, 0, 0, 0))
        else:
            out.append(RollRate(name, *(int(v) for v in r[1:])))
    return out
