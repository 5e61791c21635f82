"""strategy versions: strategies saved from the app

Revision ID: 0005s
Revises: 0004c
Create Date: 2026-11-29 02:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import arrears.adapters.db.tables

revision: str = "0005s"
down_revision: str | None = "0004c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "strategy_versions",
        sa.Column("version_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column(
            "created_at", arrears.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_strategy_versions")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_strategy_versions_name_version")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER strategy_versions_append_only BEFORE UPDATE OR DELETE ON "
            "strategy_versions FOR EACH ROW EXECUTE FUNCTION arrears_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS strategy_versions_append_only ON strategy_versions")
    op.drop_table("strategy_versions")
