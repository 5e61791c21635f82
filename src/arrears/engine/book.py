"""The normalised in-memory loan book and its reader for interchange folders (DuckDB).

Only structural checks live here (a file or column missing, a binary-float amount, a value
that cannot be parsed); full row validation is ``arrears.services.validation``'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.loans import Installment, LoanTerms, Payment

__all__ = [
    "INSTALLMENTS_SCHEMA",
    "LOANS_SCHEMA",
    "PAYMENTS_SCHEMA",
    "Book",
    "book_from_domain",
    "find_input",
    "read_book_dir",
]

LOANS_SCHEMA = pa.schema(
    [
        ("loan_id", pa.string()),
        ("borrower_id", pa.string()),
        ("product", pa.string()),
        ("principal_minor", pa.int64()),
        ("annual_rate", pa.string()),
        ("term_months", pa.int32()),
        ("start_date", pa.date32()),
        ("method", pa.string()),
        ("penalty_markup", pa.string()),
        ("grace_days", pa.int32()),
    ]
)
INSTALLMENTS_SCHEMA = pa.schema(
    [
        ("loan_id", pa.string()),
        ("seq", pa.int32()),
        ("due_date", pa.date32()),
        ("principal_minor", pa.int64()),
        ("interest_minor", pa.int64()),
    ]
)
PAYMENTS_SCHEMA = pa.schema(
    [
        ("payment_id", pa.string()),
        ("loan_id", pa.string()),
        ("paid_on", pa.date32()),
        ("amount_minor", pa.int64()),
    ]
)


@dataclass(frozen=True, slots=True)
class Book:
    """Loans, optional installments (None: generate schedules) and payments, as Arrow tables."""

    loans: pa.Table
    installments: pa.Table | None
    payments: pa.Table

    def __post_init__(self) -> None:
        object.__setattr__(self, "loans", self.loans.select(LOANS_SCHEMA.names).cast(LOANS_SCHEMA))
        if self.installments is not None:
            inst = self.installments.select(INSTALLMENTS_SCHEMA.names).cast(INSTALLMENTS_SCHEMA)
            object.__setattr__(self, "installments", inst)
        pays = self.payments.select(PAYMENTS_SCHEMA.names).cast(PAYMENTS_SCHEMA)
        object.__setattr__(self, "payments", pays)


def find_input(folder: Path, name: str) -> Path | None:
    """``name.parquet`` or ``name.csv`` in ``folder`` (refusing both at once)."""
    found = [p for p in (folder / f"{name}.parquet", folder / f"{name}.csv") if p.exists()]
    if len(found) > 1:
        raise ValidationError(
            [
                Issue(
                    found[0].name, None, None, f"both {name}.csv and {name}.parquet given; send one"
                )
            ]
        )
    return found[0] if found else None


_FLOATS = {"FLOAT", "DOUBLE", "REAL"}
_INTS = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "HUGEINT",
}
_TZ_SUFFIX = r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"


class _Reader:
    def __init__(self, con: duckdb.DuckDBPyConnection, folder: Path, subset: bool = False) -> None:
        self.con = con
        self.folder = folder
        self.subset = subset  # only loans in the registered table ``wanted_ids``
        self.parquet_cols: dict[str, str] = {}

    def view(self, name: str, required: bool, columns: tuple[str, ...]) -> dict[str, str] | None:
        path = find_input(self.folder, name)
        if path is None:
            if required:
                raise ValidationError([Issue(f"{name}.csv", None, None, "required file missing")])
            return None
        src = str(path).replace("'", "''")
        if path.suffix == ".csv":
            sql = f"SELECT * FROM read_csv('{src}', header=true, all_varchar=true, quote='\"')"  # noqa: S608 - only our own identifiers and quoted paths
        else:
            sql = f"SELECT * FROM read_parquet('{src}')"  # noqa: S608 - only our own identifiers and quoted paths
        if self.subset and name != "borrowers":
            # CSV cells are trimmed when read; Parquet ids are compared as they are.
            key = "TRIM(loan_id)" if path.suffix == ".csv" else "CAST(loan_id AS VARCHAR)"
            sql = f"SELECT * FROM ({sql}) WHERE {key} IN (SELECT loan_id FROM wanted_ids)"  # noqa: S608
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW raw_{name} AS {sql}")
        types = {
            r[0]: str(r[1]).upper() for r in self.con.execute(f"DESCRIBE raw_{name}").fetchall()
        }
        self.parquet_cols = types if path.suffix == ".parquet" else {}
        missing = [c for c in columns if c not in types]
        if missing:
            raise ValidationError(
                [Issue(path.name, None, c, "required column missing") for c in missing]
            )
        return types

    def check(self, file: str, column: str, bad_sql: str, reason: str) -> None:
        """Raise when ``bad_sql`` (a WHERE condition on raw_<file>) matches rows."""
        (bad,) = self.con.execute(f"SELECT count(*) FROM raw_{file} WHERE {bad_sql}").fetchall()  # noqa: S608 - ours
        if not bad[0]:
            return
        rows = self.con.execute(
            f"SELECT n FROM (SELECT row_number() OVER () AS n, * FROM raw_{file}) "  # noqa: S608
            f"WHERE {bad_sql} ORDER BY n LIMIT 50"
        ).fetchall()
        raise ValidationError(
            [Issue(f"{file}", int(r[0]) + 1, column, reason) for r in rows], total=int(bad[0])
        )

    def text(self, col: str) -> str:
        # CSV cells are trimmed; Parquet strings are taken as they are (Spark does the same).
        if col in self.parquet_cols:
            kind = self.parquet_cols[col]
            return f'"{col}"' if kind == "VARCHAR" else f'CAST("{col}" AS VARCHAR)'
        return f"NULLIF(TRIM(CAST(\"{col}\" AS VARCHAR)), '')"

    def cents(self, file: str, types: dict[str, str], col: str) -> str:
        if types[col] in _FLOATS:
            raise ValidationError(
                [
                    Issue(
                        file,
                        None,
                        col,
                        "binary floating-point amounts are "
                        "refused (not exact); send decimals or decimal strings",
                    )
                ]
            )
        kind = types[col]
        scale = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", kind)
        if kind in _INTS or (scale and int(scale.group(2)) <= 2):
            return f'CAST("{col}" * 100 AS BIGINT)'
        dec = f"TRY_CAST({self.text(col)} AS DECIMAL(38,10))"
        self.check(
            file,
            col,
            f"{self.text(col)} IS NOT NULL AND ({dec} IS NULL OR "
            f"{dec} * 100 <> FLOOR({dec} * 100))",
            "not an amount with at most 2 decimals",
        )
        return f"CAST({dec} * 100 AS BIGINT)"

    def rate(self, file: str, types: dict[str, str], col: str) -> str:
        if types[col] in _FLOATS:
            raise ValidationError(
                [
                    Issue(
                        file,
                        None,
                        col,
                        "binary floating-point rates are "
                        "refused (not exact); send decimals or decimal strings",
                    )
                ]
            )
        dec = f"TRY_CAST({self.text(col)} AS DECIMAL(38,18))"
        self.check(file, col, f"{self.text(col)} IS NOT NULL AND {dec} IS NULL", "not a decimal")
        return self.text(col)

    def typed(self, file: str, col: str, sql_type: str, kind: str = "VARCHAR") -> str:
        if (kind == "DATE" and sql_type == "DATE") or (sql_type == "INTEGER" and kind in _INTS):
            return f'CAST("{col}" AS {sql_type})'
        val = f"TRY_CAST({self.text(col)} AS {sql_type})"
        self.check(
            file,
            col,
            f"{self.text(col)} IS NOT NULL AND {val} IS NULL",
            f"not a valid {sql_type.lower()}",
        )
        return val


def read_book_dir(
    path: str | Path, lender_tz: str = "Asia/Shanghai", loan_ids: pa.Array | None = None
) -> Book:
    """Read an interchange folder (loan-math/interchange v1) into a normalised Book.

    ``loan_ids`` limits the book to those loans (the incremental cycle reads only what it
    recomputes).
    """
    folder = Path(path)
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", lender_tz):
        raise ValidationError([Issue("settings", None, "timezone", f"bad zone {lender_tz!r}")])
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        if loan_ids is not None:
            con.register("wanted_ids", pa.table({"loan_id": pa.array(loan_ids, pa.string())}))
        r = _Reader(con, folder, subset=loan_ids is not None)
        r.view("borrowers", True, ("borrower_id",))
        lt = r.view(
            "loans",
            True,
            (
                "loan_id",
                "borrower_id",
                "principal",
                "annual_rate",
                "term_months",
                "start_date",
                "repayment_method",
            ),
        )
        if lt is None:  # pragma: no cover - view() raises for a missing required file
            raise ValidationError([Issue("loans.csv", None, None, "required file missing")])
        product = r.text("product") if "product" in lt else "NULL"
        markup = r.rate("loans", lt, "penalty_markup") if "penalty_markup" in lt else "NULL"
        grace = (
            r.typed("loans", "grace_days", "INTEGER", lt["grace_days"])
            if "grace_days" in lt
            else "NULL"
        )
        loans = con.sql(f"""
            SELECT {r.text("loan_id")} AS loan_id, {r.text("borrower_id")} AS borrower_id,
                   COALESCE({product}, 'default') AS product,
                   {r.cents("loans", lt, "principal")} AS principal_minor,
                   {r.rate("loans", lt, "annual_rate")} AS annual_rate,
                   {r.typed("loans", "term_months", "INTEGER", lt["term_months"])} AS term_months,
                   {r.typed("loans", "start_date", "DATE", lt["start_date"])} AS start_date,
                   LOWER({r.text("repayment_method")}) AS method,
                   {markup} AS penalty_markup, {grace} AS grace_days
            FROM raw_loans """).to_arrow_table()  # noqa: S608 - only our own identifiers and quoted paths
        it = r.view("installments", False, ("loan_id", "seq", "due_date", "principal", "interest"))
        inst = None
        if it is not None:
            inst = con.sql(f"""
                SELECT {r.text("loan_id")} AS loan_id,
                       {r.typed("installments", "seq", "INTEGER", it["seq"])} AS seq,
                       {r.typed("installments", "due_date", "DATE", it["due_date"])} AS due_date,
                       {r.cents("installments", it, "principal")} AS principal_minor,
                       {r.cents("installments", it, "interest")} AS interest_minor
                FROM raw_installments """).to_arrow_table()  # noqa: S608 - only our own identifiers and quoted paths
        pt = r.view("payments", False, ("payment_id", "loan_id", "paid_at", "amount"))
        if pt is None:
            pays = PAYMENTS_SCHEMA.empty_table()
        else:
            pays = con.sql(f"""
                SELECT {r.text("payment_id")} AS payment_id, {r.text("loan_id")} AS loan_id,
                       CAST(timezone('{lender_tz}', {_paid_at(r, pt["paid_at"])}) AS DATE)
                       AS paid_on, {r.cents("payments", pt, "amount")} AS amount_minor
                FROM raw_payments """).to_arrow_table()  # noqa: S608 - only our own identifiers and quoted paths
    finally:
        con.close()
    return Book(loans, inst, pays)


def _paid_at(r: _Reader, sql_type: str) -> str:
    if sql_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return '"paid_at"'
    if sql_type.startswith("TIMESTAMP"):
        raise ValidationError(
            [Issue("payments", None, "paid_at", "timestamp without a time zone is refused")]
        )
    r.check(
        "payments",
        "paid_at",
        f"NOT regexp_matches({r.text('paid_at')}, '{_TZ_SUFFIX}')",
        "timestamp without a UTC offset is refused",
    )
    return r.typed("payments", "paid_at", "TIMESTAMPTZ")


# Kept for callers that want the same offset rule in Python.
TZ_SUFFIX_RE = re.compile(_TZ_SUFFIX)


def book_from_domain(
    loans: Sequence[LoanTerms],
    payments: Mapping[str, Sequence[Payment]] | None = None,
    installments: Mapping[str, Sequence[Installment]] | None = None,
) -> Book:
    """A Book from domain objects (tests, the online view); installments None: generated."""
    from arrears.domain.money import to_minor

    loan_rows = [
        {
            "loan_id": ln.loan_id,
            "borrower_id": ln.borrower_id,
            "product": ln.product,
            "principal_minor": to_minor(ln.principal),
            "annual_rate": str(ln.annual_rate),
            "term_months": ln.term_months,
            "start_date": ln.start_date,
            "method": str(ln.method),
            "penalty_markup": None if ln.penalty_markup is None else str(ln.penalty_markup),
            "grace_days": ln.grace_days,
        }
        for ln in loans
    ]
    pay_rows = [
        {
            "payment_id": p.payment_id,
            "loan_id": lid,
            "paid_on": p.paid_on,
            "amount_minor": to_minor(p.amount),
        }
        for lid, ps in (payments or {}).items()
        for p in ps
    ]
    inst = None
    if installments is not None:
        inst = pa.Table.from_pylist(
            [
                {
                    "loan_id": lid,
                    "seq": i.seq,
                    "due_date": i.due_date,
                    "principal_minor": to_minor(i.principal),
                    "interest_minor": to_minor(i.interest),
                }
                for lid, its in installments.items()
                for i in its
            ],
            schema=INSTALLMENTS_SCHEMA,
        )
    return Book(
        pa.Table.from_pylist(loan_rows, schema=LOANS_SCHEMA),
        inst,
        pa.Table.from_pylist(pay_rows, schema=PAYMENTS_SCHEMA),
    )
