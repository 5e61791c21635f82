"""work queue: one covering index per order on account_assignments

Revision ID: 0013q
Revises: 0012o
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013q"
down_revision: str | None = "0012o"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index name, key) — see adapters.db.desk_tables: a queue page is an index-only range scan
# in its order. ``NULLS FIRST`` is SQLite's own ascending order, and SQLite's CREATE INDEX has
# no NULLS clause (nor INCLUDE).
_ORDERS = (
    ("dpd", "dpd"),
    ("amount", "due_minor"),
    ("last_contact", "last_contact_at NULLS FIRST"),
    ("next_action", "next_action_on"),
)
_COLUMNS = ("borrower_id", "loans", "dpd", "due_minor", "last_contact_at", "next_action_on")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, key in _ORDERS:
        if not postgres:
            key = key.removesuffix(" NULLS FIRST")
        include = ", ".join(c for c in _COLUMNS if c != "borrower_id")
        op.execute(
            f"CREATE INDEX ix_account_assignments_queue_{name} ON account_assignments "
            f"(user_id, {key}, borrower_id)" + (f" INCLUDE ({include})" if postgres else "")
        )
    op.drop_index("ix_account_assignments_user_id", table_name="account_assignments")


def downgrade() -> None:
    op.create_index("ix_account_assignments_user_id", "account_assignments", ["user_id"])
    for name, _ in _ORDERS:
        op.drop_index(f"ix_account_assignments_queue_{name}", table_name="account_assignments")
