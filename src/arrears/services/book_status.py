"""Statuses of a book folder evaluated directly, without the store (``status --book``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pyarrow as pa

from arrears.domain.products import ProductSettings
from arrears.engine.book import read_book_dir
from arrears.engine.status import compute_status_table
from arrears.services.validation import validate_book

__all__ = ["status_of_book_folder"]


def status_of_book_folder(
    folder: Path,
    as_of: date,
    engine: str = "duckdb",
    lender_tz: str = "Asia/Shanghai",
    spark_master: str = "local[2]",
    products: Mapping[str, ProductSettings] | None = None,
) -> pa.Table:
    """Validate the folder as an import would (every bad row reported), then evaluate it."""
    validate_book(folder)
    if engine == "spark":
        from arrears.engine.spark import read_book_spark, spark_session, status_spark

        spark = spark_session(master=spark_master)
        try:
            return status_spark(*read_book_spark(spark, folder, lender_tz), [as_of], products)
        finally:
            spark.stop()
    return compute_status_table(read_book_dir(folder, lender_tz=lender_tz), [as_of], products)
