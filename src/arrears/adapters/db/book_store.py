"""Bulk reads and writes between the store and the engine's Arrow columns.

Jobs never loop over ORM rows: loans, installments and payments are read in column batches,
status rows are written with ``executemany`` in chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from arrears.adapters.db.tables import installments, loans, payments, status_history
from arrears.engine.book import INSTALLMENTS_SCHEMA, LOANS_SCHEMA, PAYMENTS_SCHEMA, Book
from arrears.engine.status import MONEY_COLUMNS, STATE_SCHEMA, STATUS_SCHEMA

__all__ = [
    "STORED_STATUS",
    "delete_status",
    "read_book",
    "read_status",
    "status_dates",
    "write_status_rows",
]

_CHUNK = 20_000
_SMALL = 200  # at most this many loan ids go into an IN list


def _stored(name: str) -> str:
    """The store's column for a status column: money carries a ``_minor`` suffix."""
    return f"{name}_minor" if name in MONEY_COLUMNS else name


STORED_STATUS = [_stored(n) for n in STATUS_SCHEMA.names]  # status_history's names


def _ids_table(conn: Connection, ids: Iterable[str]) -> sa.Table:
    """A temporary table of loan ids, to join instead of a huge IN list."""
    meta = sa.MetaData()
    tmp = sa.Table(
        "tmp_cycle_ids",
        meta,
        sa.Column("loan_id", sa.String, primary_key=True),
        prefixes=["TEMPORARY"],
    )
    tmp.drop(conn, checkfirst=True)
    tmp.create(conn)
    batch: list[dict[str, str]] = []
    for loan_id in ids:
        batch.append({"loan_id": loan_id})
        if len(batch) >= _CHUNK:
            conn.execute(tmp.insert(), batch)
            batch = []
    if batch:
        conn.execute(tmp.insert(), batch)
    return tmp


def _as_text(values: Sequence[Any]) -> list[str | None]:
    """Exact decimals (rates, markups) come back as Decimal from PostgreSQL: keep them as text."""
    return [None if v is None else str(v) for v in values]


def _fetch(conn: Connection, query: sa.Select[Any], schema: pa.Schema) -> pa.Table:
    result = conn.execute(query)
    tables = []
    while rows := result.fetchmany(_CHUNK * 5):
        columns = list(zip(*rows, strict=True))
        arrays = [
            pa.array(_as_text(c) if f.type == pa.string() else c, type=f.type)
            for c, f in zip(columns, schema, strict=True)
        ]
        tables.append(pa.table(arrays, schema=schema))
    return pa.concat_tables(tables) if tables else schema.empty_table()


def read_book(conn: Connection, loan_ids: Sequence[str] | None = None) -> Book:
    """Loans (all, or the given ids) with their installments and payments."""
    q_loans = sa.select(
        loans.c.loan_id,
        loans.c.borrower_id,
        loans.c.product,
        loans.c.principal_minor,
        loans.c.annual_rate,
        loans.c.term_months,
        loans.c.start_date,
        loans.c.repayment_method,
        loans.c.penalty_markup,
        loans.c.grace_days,
    )
    q_inst = sa.select(
        installments.c.loan_id,
        installments.c.seq,
        installments.c.due_date,
        installments.c.principal_minor,
        installments.c.interest_minor,
    )
    q_pay = sa.select(
        payments.c.payment_id, payments.c.loan_id, payments.c.paid_on, payments.c.amount_minor
    )
    if loan_ids is not None and len(loan_ids) <= _SMALL:
        # A few loans (an account view, a posted payment): a bound IN list costs one round
        # trip per table; the temporary table below costs five.
        ids = list(loan_ids)
        q_loans = q_loans.where(loans.c.loan_id.in_(ids))
        q_inst = q_inst.where(installments.c.loan_id.in_(ids))
        q_pay = q_pay.where(payments.c.loan_id.in_(ids))
    elif loan_ids is not None:
        tmp = _ids_table(conn, loan_ids)
        q_loans = q_loans.join_from(loans, tmp, tmp.c.loan_id == loans.c.loan_id)
        q_inst = q_inst.join_from(installments, tmp, tmp.c.loan_id == installments.c.loan_id)
        q_pay = q_pay.join_from(payments, tmp, tmp.c.loan_id == payments.c.loan_id)
    loan_table = _fetch(conn, q_loans, LOANS_SCHEMA)
    inst = _fetch(
        conn, q_inst.order_by(installments.c.loan_id, installments.c.seq), INSTALLMENTS_SCHEMA
    )
    pays = _fetch(conn, q_pay, PAYMENTS_SCHEMA)
    return Book(loans=loan_table, installments=inst, payments=pays)


def status_dates(conn: Connection) -> list[date]:
    rows = conn.execute(
        sa.select(status_history.c.as_of).distinct().order_by(status_history.c.as_of)
    )
    return [r[0] for r in rows]


def read_status(conn: Connection, as_of: date, with_state: bool = False) -> pa.Table:
    """Statuses of one cycle date (STATUS_SCHEMA, plus STATE_SCHEMA when asked)."""
    cols = [status_history.c[name] for name in STORED_STATUS]
    schema = STATUS_SCHEMA
    if with_state:
        cols += [status_history.c[f.name] for f in STATE_SCHEMA]
        schema = pa.schema([*STATUS_SCHEMA, *STATE_SCHEMA])
    query = (
        sa.select(*cols).where(status_history.c.as_of == as_of).order_by(status_history.c.loan_id)
    )
    return _fetch(conn, query, schema)


def delete_status(conn: Connection, as_of: date) -> None:
    conn.execute(sa.delete(status_history).where(status_history.c.as_of == as_of))


def write_status_rows(conn: Connection, table: pa.Table, cycle_run_id: int | None) -> None:
    """Append status rows in bulk: COPY on PostgreSQL, executemany of tuples elsewhere."""
    columns = list(STATUS_SCHEMA.names)
    names = list(STORED_STATUS)
    if all(f.name in table.column_names for f in STATE_SCHEMA):
        columns += STATE_SCHEMA.names
        names += STATE_SCHEMA.names
    names.append("cycle_run_id")
    table = table.select(columns)
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, table, names, cycle_run_id)
        return
    placeholders = ", ".join("?" for _ in names)
    sql = f"INSERT INTO status_history ({', '.join(names)}) VALUES ({placeholders})"  # noqa: S608
    for batch in table.to_batches(max_chunksize=_CHUNK * 5):
        values = [c.to_pylist() for c in batch.columns]
        rows = [(*row, cycle_run_id) for row in zip(*values, strict=True)]
        conn.exec_driver_sql(sql, rows)


def _copy_rows(conn: Connection, table: pa.Table, names: list[str], run_id: int | None) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None  # noqa: S101 - a live connection always has its driver connection
    with (
        raw.cursor() as cur,
        cur.copy(f"COPY status_history ({', '.join(names)}) FROM STDIN") as copy,
    ):
        for batch in table.to_batches(max_chunksize=_CHUNK * 5):
            columns = [c.to_pylist() for c in batch.columns]
            for row in zip(*columns, strict=True):
                copy.write_row((*row, run_id))
