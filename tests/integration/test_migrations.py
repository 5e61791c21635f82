"""The migrations build exactly the schema the code declares (tables, columns, types,
indexes, foreign keys), on SQLite and PostgreSQL — a table or column added to the code but
not to a migration (or the other way round) fails here."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

import arrears.adapters.db as db_package
from arrears.adapters.db.tables import metadata


def _declared() -> None:
    for info in pkgutil.iter_modules(db_package.__path__):
        if info.name.endswith("tables"):
            importlib.import_module(f"{db_package.__name__}.{info.name}")


def test_migrations_match_the_declared_tables(store: Engine) -> None:
    _declared()
    with store.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, metadata)
    assert diff == [], "\n".join(map(str, diff))


def test_every_table_module_is_registered_for_migrations() -> None:
    from pathlib import Path

    env = (Path(db_package.__file__).parent / "migrations" / "env.py").read_text("utf-8")
    modules = [
        i.name for i in pkgutil.iter_modules(db_package.__path__) if i.name.endswith("_tables")
    ]
    missing = [m for m in modules if f"arrears.adapters.db.{m}" not in env]
    assert missing == [], (
        f"add `import arrears.adapters.db.<module>` to migrations/env.py: {missing}"
    )
