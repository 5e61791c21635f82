"""The status computation on Spark: same reading rules, same numba kernel, same table.

Spark reads and normalises the interchange folder, groups each loan's installments and
payments into list columns next to the loan (one row per loan), repartitions by ``loan_id``
and runs ``status_from_book`` (the DuckDB path's own kernel call) on every Arrow batch with
``mapInArrow``. The collected table is sorted like the DuckDB one, so both write the same bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.products import ProductSettings
from arrears.engine.book import (
    INSTALLMENTS_SCHEMA,
    LOANS_SCHEMA,
    PAYMENTS_SCHEMA,
    Book,
    find_input,
)
from arrears.engine.status import STATUS_SCHEMA, status_from_book

__all__ = ["read_book_spark", "spark_session", "status_from_book_spark", "status_spark"]

# pyspark ships partial typing only; DataFrames and Columns are handled as Any here.
DataFrame = Any
_EPOCH = dt.date(1970, 1, 1)
_AMOUNT_RE = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_TZ_RE = r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"


def spark_session(app: str = "arrears", partitions: int = 4, master: str = "local[2]") -> Any:
    """A session (local[2] by default) with the STACK.md settings.

    Loopback only, no UI, UTC session time zone, a temporary warehouse directory.
    """
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    warehouse = tempfile.mkdtemp(prefix="arrears-spark-")
    return (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.default.parallelism", str(partitions))
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "200000")
        .getOrCreate()
    )


def _read(
    spark: Any, folder: Path, name: str, required: bool, columns: Sequence[str]
) -> DataFrame | None:
    path = find_input(folder, name)
    if path is None:
        if required:
            raise ValidationError([Issue(f"{name}.csv", None, None, "required file missing")])
        return None
    if path.suffix == ".csv":
        df = spark.read.csv(str(path), header=True, inferSchema=False, quote='"', escape='"')
    else:
        df = spark.read.parquet(str(path))
        df._arrears_csv = False  # read by _text: Parquet strings are not trimmed
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValidationError(
            [Issue(path.name, None, c, "required column missing") for c in missing]
        )
    return df


def _text(df: DataFrame, col: str) -> Any:
    """CSV cells trimmed, empty -> null; Parquet strings as they are (as book.py does)."""
    from pyspark.sql import functions as F

    if col not in df.columns or getattr(df, "_arrears_csv", True) is False:
        return F.col(col).cast("string")
    t = F.trim(F.col(col).cast("string"))
    return F.when(t == "", None).otherwise(t)


class _Checks:
    """Collects per-file bad-row counters and evaluates them in one Spark job."""

    def __init__(self, file: str, df: DataFrame) -> None:
        self.file = file
        self.df = df
        self.bad: list[tuple[str, str, Any]] = []

    def cents(self, col: str) -> Any:
        from pyspark.sql import functions as F

        kind = dict(self.df.dtypes)[col]
        if kind in ("float", "double"):
            raise ValidationError(
                [
                    Issue(
                        self.file,
                        None,
                        col,
                        "binary floating-point amounts "
                        "are refused (not exact); send decimals or strings",
                    )
                ]
            )
        t = _text(self.df, col)
        dec = t.cast("decimal(38,10)")
        ok = t.rlike(_AMOUNT_RE) & (dec * 100 == F.floor(dec * 100))
        self.bad.append((col, "not an amount with at most 2 decimals", t.isNotNull() & ~ok))
        return (dec * 100).cast("long")

    def rate(self, col: str) -> Any:
        kind = dict(self.df.dtypes)[col]
        if kind in ("float", "double"):
            raise ValidationError(
                [
                    Issue(
                        self.file,
                        None,
                        col,
                        "binary floating-point rates "
                        "are refused (not exact); send decimals or strings",
                    )
                ]
            )
        t = _text(self.df, col)
        self.bad.append((col, "not a decimal", t.isNotNull() & ~t.rlike(_AMOUNT_RE)))
        return t

    def typed(self, col: str, kind: str) -> Any:
        from pyspark.sql import functions as F

        t = _text(self.df, col)
        val = F.to_date(t) if kind == "date" else t.cast(kind)
        val = (
            val
            if kind == "date" or dict(self.df.dtypes)[col] == "string"
            else F.col(col).cast(kind)
        )
        self.bad.append((col, f"not a valid {kind}", t.isNotNull() & val.isNull()))
        return val

    def run(self) -> None:
        from pyspark.sql import functions as F

        if not self.bad:
            return
        counts = self.df.agg(
            *[F.sum(cond.cast("int")).alias(f"c{j}") for j, (_, _, cond) in enumerate(self.bad)]
        ).collect()[0]
        issues = [
            Issue(self.file, None, col, reason)
            for j, (col, reason, _) in enumerate(self.bad)
            if (counts[f"c{j}"] or 0) > 0
        ]
        if issues:
            raise ValidationError(issues)


def read_book_spark(
    spark: Any,
    path: str | Path,
    lender_tz: str = "Asia/Shanghai",
) -> tuple[DataFrame, DataFrame | None, DataFrame]:
    """Loans, installments (None when absent) and payments as normalised DataFrames."""
    from pyspark.sql import functions as F

    folder = Path(path)
    _read(spark, folder, "borrowers", True, ("borrower_id",))
    raw = _read(
        spark,
        folder,
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
    if raw is None:  # pragma: no cover - _read raises for a missing required file
        raise ValidationError([Issue("loans.csv", None, None, "required file missing")])
    ck = _Checks("loans", raw)
    cols = raw.columns
    loans = raw.select(
        _text(raw, "loan_id").alias("loan_id"),
        _text(raw, "borrower_id").alias("borrower_id"),
        F.coalesce(
            _text(raw, "product") if "product" in cols else F.lit(None).cast("string"),
            F.lit("default"),
        ).alias("product"),
        ck.cents("principal").alias("principal_minor"),
        ck.rate("annual_rate").alias("annual_rate"),
        ck.typed("term_months", "int").alias("term_months"),
        ck.typed("start_date", "date").alias("start_date"),
        F.lower(_text(raw, "repayment_method")).alias("method"),
        (
            ck.rate("penalty_markup") if "penalty_markup" in cols else F.lit(None).cast("string")
        ).alias("penalty_markup"),
        (ck.typed("grace_days", "int") if "grace_days" in cols else F.lit(None).cast("int")).alias(
            "grace_days"
        ),
    )
    ck.run()
    inst = None
    raw_i = _read(
        spark,
        folder,
        "installments",
        False,
        ("loan_id", "seq", "due_date", "principal", "interest"),
    )
    if raw_i is not None:
        ck = _Checks("installments", raw_i)
        inst = raw_i.select(
            _text(raw_i, "loan_id").alias("loan_id"),
            ck.typed("seq", "int").alias("seq"),
            ck.typed("due_date", "date").alias("due_date"),
            ck.cents("principal").alias("principal_minor"),
            ck.cents("interest").alias("interest_minor"),
        )
        ck.run()
    raw_p = _read(spark, folder, "payments", False, ("payment_id", "loan_id", "paid_at", "amount"))
    if raw_p is None:
        pays = spark.createDataFrame(
            [], "payment_id string, loan_id string, paid_on date, amount_minor long"
        )
    else:
        ck = _Checks("payments", raw_p)
        kind = dict(raw_p.dtypes)["paid_at"]
        if kind == "timestamp_ntz":
            raise ValidationError(
                [Issue("payments", None, "paid_at", "timestamp without a time zone is refused")]
            )
        if kind == "timestamp":
            ts = F.col("paid_at")
        else:
            t = _text(raw_p, "paid_at")
            ck.bad.append(
                (
                    "paid_at",
                    "timestamp without a UTC offset is refused",
                    t.isNotNull() & ~t.rlike(_TZ_RE),
                )
            )
            ts = t.cast("timestamp")
            ck.bad.append(("paid_at", "not a valid timestamp", t.isNotNull() & ts.isNull()))
        pays = raw_p.select(
            _text(raw_p, "payment_id").alias("payment_id"),
            _text(raw_p, "loan_id").alias("loan_id"),
            F.to_date(F.from_utc_timestamp(ts, lender_tz)).alias("paid_on"),
            ck.cents("amount").alias("amount_minor"),
        )
        ck.run()
    return loans, inst, pays


def _batch_status(
    batches: Iterator[pa.RecordBatch],
    as_of_days: np.ndarray,
    products: Mapping[str, ProductSettings] | None,
    with_schedule: bool,
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: nested loan rows -> status rows, through the shared kernel path."""
    for batch in batches:
        if batch.num_rows == 0:
            continue
        t = pa.Table.from_batches([batch])
        loans = t.select(LOANS_SCHEMA.names)
        inst = _flatten(t, "inst", INSTALLMENTS_SCHEMA) if with_schedule else None
        pays = _flatten(t, "pays", PAYMENTS_SCHEMA)
        out = status_from_book(Book(loans, inst, pays), as_of_days, products)
        yield from out.to_batches()


def _flatten(t: pa.Table, col: str, schema: pa.Schema) -> pa.Table:
    lists = t[col].combine_chunks()
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists)
    cols = {"loan_id": t["loan_id"].take(parents)}
    for name in schema.names:
        if name != "loan_id":
            cols[name] = flat.field(name)
    return pa.table(cols).select(schema.names).cast(schema)


def _spark_schema() -> Any:
    from pyspark.sql.types import (
        BooleanType,
        DateType,
        IntegerType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    kinds = {
        pa.string(): StringType(),
        pa.date32(): DateType(),
        pa.int32(): IntegerType(),
        pa.int64(): LongType(),
        pa.bool_(): BooleanType(),
    }
    return StructType([StructField(f.name, kinds[f.type], True) for f in STATUS_SCHEMA])


def status_spark(
    loans: DataFrame,
    inst: DataFrame | None,
    pays: DataFrame,
    as_of_dates: Sequence[dt.date],
    products: Mapping[str, ProductSettings] | None = None,
    partitions: int | None = None,
) -> pa.Table:
    """The status table (as the DuckDB path returns it) computed on Spark."""
    from pyspark.sql import functions as F

    days = np.array(sorted({(d - _EPOCH).days for d in as_of_dates}), dtype=np.int64)
    if days.size == 0:
        return STATUS_SCHEMA.empty_table()
    for name, frame in (("installments", inst), ("payments", pays)):
        # The DuckDB path refuses rows of unknown loans; a left join here would drop them.
        if frame is not None:
            orphan = frame.join(loans, "loan_id", "left_anti").select("loan_id").limit(1).collect()
            if orphan:
                raise ValidationError(
                    [Issue(name, None, "loan_id", f"unknown loan {orphan[0][0]}")]
                )
    nested = loans
    if inst is not None:
        g = inst.groupBy("loan_id").agg(
            F.collect_list(F.struct("seq", "due_date", "principal_minor", "interest_minor")).alias(
                "inst"
            )
        )
        nested = nested.join(g, "loan_id", "left")
        nested = nested.withColumn(
            "inst", F.coalesce("inst", F.array().cast(g.schema["inst"].dataType))
        )
    gp = pays.groupBy("loan_id").agg(
        F.collect_list(F.struct("payment_id", "paid_on", "amount_minor")).alias("pays")
    )
    nested = nested.join(gp, "loan_id", "left")
    nested = nested.withColumn(
        "pays", F.coalesce("pays", F.array().cast(gp.schema["pays"].dataType))
    )
    n = partitions or int(nested.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    nested = nested.repartition(n, "loan_id").sortWithinPartitions("loan_id")
    fn = functools.partial(
        _batch_status, as_of_days=days, products=products, with_schedule=inst is not None
    )
    table: pa.Table = nested.mapInArrow(fn, _spark_schema()).toArrow()
    table = table.cast(STATUS_SCHEMA)
    return table.take(pc.sort_indices(table, [("loan_id", "ascending"), ("as_of", "ascending")]))


def status_from_book_spark(
    book: Book,
    as_of_dates: Sequence[dt.date],
    products: Mapping[str, ProductSettings] | None = None,
    spark: Any = None,
) -> pa.Table:
    """``compute_status_table(engine="spark")``: ship an in-memory Book to Spark."""
    spark = spark or spark_session()
    loans = spark.createDataFrame(book.loans.to_pandas())
    inst = (
        None if book.installments is None else spark.createDataFrame(book.installments.to_pandas())
    )
    pays = spark.createDataFrame(
        book.payments.to_pandas(),
        "payment_id string, loan_id string, paid_on date, amount_minor long",
    )
    return status_spark(loans, inst, pays, as_of_dates, products)
