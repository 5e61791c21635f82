"""Engine creation and schema migration (Alembic, run programmatically)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from arrears.domain.errors import ConfigurationError

__all__ = ["MIGRATIONS_DIR", "make_engine", "masked", "savepoint", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def masked(url: str | URL) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@contextmanager
def savepoint(conn: Connection) -> Iterator[None]:
    """``conn.begin_nested()`` that is safe on SQLite: the driver opens its transaction only
    at the first INSERT/UPDATE/DELETE, so a SAVEPOINT issued first would itself be the
    outermost transaction and its RELEASE would commit. Open the transaction first."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN")
    with conn.begin_nested():
        yield


def make_engine(url: str | URL, *, check: bool = True, echo: bool = False) -> Engine:
    """An engine for ``url``; with ``check`` it connects once and fails clearly.

    Raises ``ConfigurationError("cannot connect to database <masked url>: <reason>")``.
    """
    try:
        parsed = make_url(url)
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql":
            connect_args["connect_timeout"] = 10
        engine = create_engine(parsed, echo=echo, connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigurationError(f"invalid database URL {masked(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            engine.dispose()
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise ConfigurationError(f"cannot connect to database {masked(url)}: {reason}") from exc
    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(url_or_engine: str | URL | Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest)."""
    engine = url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    if engine is not url_or_engine:
        engine.dispose()
