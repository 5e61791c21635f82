"""The SQLAlchemy store: tables, engine, migrations and bulk writers."""

from arrears.adapters.db.engine import make_engine, upgrade
from arrears.adapters.db.tables import metadata

__all__ = ["make_engine", "metadata", "upgrade"]
