"""Bulk writes and id look-ups with dialect-specific upserts (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from arrears.adapters.db.tables import borrowers, loans

__all__ = ["DbStoreView", "delete_where_in", "insert_ignore", "upsert"]

IN_CHUNK = 1000


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for dialect {conn.dialect.name}")


def upsert(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keep: Collection[str] = ()
) -> None:
    """Insert ``rows``, updating existing ones by primary key (except columns in ``keep``)."""
    if not rows:
        return
    stmt = _insert(conn, table)
    keys = [c.name for c in table.primary_key.columns]
    update = {c: stmt.excluded[c] for c in rows[0] if c not in keys and c not in keep}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update), rows)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert ``rows`` whose primary key is new; returns how many were inserted."""
    if not rows:
        return 0
    keys = [c.name for c in table.primary_key.columns]
    stmt = _insert(conn, table).on_conflict_do_nothing(index_elements=keys)
    result = conn.execute(stmt.returning(*table.primary_key.columns), rows)
    return len(result.all())


def delete_where_in(conn: Connection, table: Table, column: str, values: Iterable[Any]) -> None:
    chunk = list(values)
    for i in range(0, len(chunk), IN_CHUNK):
        conn.execute(delete(table).where(table.c[column].in_(chunk[i : i + IN_CHUNK])))


class DbStoreView:
    """The store's ids, for validation of references that are not in the files."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def existing_borrowers(self, ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids):
            query = select(borrowers.c.borrower_id).where(borrowers.c.borrower_id.in_(chunk))
            found.update(self.conn.scalars(query))
        return found

    def loan_principals(self, ids: Collection[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(ids):
            query = select(loans.c.loan_id, loans.c.principal_minor).where(
                loans.c.loan_id.in_(chunk)
            )
            found.update({row.loan_id: row.principal_minor for row in self.conn.execute(query)})
        return found


def _chunks(ids: Collection[str]) -> Iterable[list[str]]:
    items = list(ids)
    for i in range(0, len(items), IN_CHUNK):
        yield items[i : i + IN_CHUNK]
