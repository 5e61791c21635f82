"""Alembic environment: the connection is handed in by ``arrears.adapters.db.engine``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

import arrears.adapters.db.compliance_tables
import arrears.adapters.db.desk_tables
import arrears.adapters.db.messaging_tables
import arrears.adapters.db.negotiation_tables
import arrears.adapters.db.plan_tables
import arrears.adapters.db.template_tables
import arrears.adapters.db.visit_record_tables
import arrears.adapters.db.visit_tables  # noqa: F401 - registers door visits (planning)
from arrears.adapters.db.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    conn = context.config.attributes.get("connection")
    if conn is not None:
        _run(conn)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection or sqlalchemy.url given to Alembic")
    engine = create_engine(url)
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
