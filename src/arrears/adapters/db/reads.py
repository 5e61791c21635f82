"""Hot reads through the driver's cursor when SQLAlchemy's per-execution work changes nothing.

On PostgreSQL (psycopg) a reused, cached ``SELECT`` costs ~100 µs of client CPU through
``Connection.execute`` and ~45 µs through the driver's cursor: the difference is execution
context, result metadata (psycopg builds a ``Column`` per field of ``cursor.description`` on
every access), ``Row`` objects and the events machinery. The desk's pages run a dozen such
reads per request (docs/benchmarks.md).

:func:`rows` runs a statement that was built once (a module-level or ``@cache`` statement with
bound parameters) on the transaction's own DBAPI connection when, and only when, SQLAlchemy
would hand back the driver's values untouched: the dialect is psycopg, the statement is a
``SELECT`` without expanding (``IN``) parameters, and no bind or result processor applies to
any of its columns (checked once per statement against the column types the server
returned). Otherwise — SQLite, a processed type, no transaction begun, echo on — it is
``Connection.execute``. Either way the caller gets the same plain tuples, and listeners of
``before_cursor_execute`` / ``after_cursor_execute`` are called (statement counters in tests
and benchmarks see every statement). Driver errors are raised as SQLAlchemy's, with a lost
connection invalidated, exactly as ``Connection.execute`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from threading import Lock
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.sql import Select

__all__ = ["dicts", "rows"]


Processor = Callable[[Any], Any]


@dataclass(slots=True)
class _Plan:
    sql: str
    keys: tuple[str, ...]
    fixed: dict[str, Any]  # the statement's literal values, by bind name
    names: dict[str, tuple[str, ...]]  # caller's key -> bind names
    required: frozenset[str]
    binds: dict[str, Processor]  # bind name -> SQLAlchemy's bind processor
    types: tuple[Any, ...]  # each result column's SQLAlchemy type
    results: tuple[tuple[int, Processor], ...] | None = None  # known after the first run
    direct: bool = True  # False: always through SQLAlchemy


_plans: dict[tuple[int, str], tuple[Select[Any], _Plan]] = {}
_lock = Lock()
_MAX_PLANS = 4096  # statements are built once each; the bound only guards against misuse


def _plan(conn: Connection, stmt: Select[Any]) -> _Plan:
    dialect = conn.dialect
    key = (id(stmt), dialect.name)
    known = _plans.get(key)
    if known is not None and known[0] is stmt:
        return known[1]
    compiled = stmt.compile(dialect=dialect)
    binds = compiled.binds.values()
    escaped = compiled.escaped_bind_names
    names: dict[str, list[str]] = {}
    for bind, name in compiled.bind_names.items():
        names.setdefault(bind.key, []).append(escaped.get(name, name))
    plan = _Plan(
        sql=compiled.string,
        keys=tuple(entry.keyname for entry in compiled._result_columns),
        fixed=dict(compiled.construct_params(_check=False)),
        names={k: tuple(v) for k, v in names.items()},
        required=frozenset(b.key for b in binds if b.required),
        binds=cast("dict[str, Processor]", dict(compiled._bind_processors)),
        types=tuple(entry.type for entry in compiled._result_columns),
        direct=(
            dialect.driver == "psycopg"
            and not compiled.positional
            and not any(b.expanding or b.literal_execute for b in binds)
        ),
    )
    with _lock:  # the statement is kept with its plan: its id cannot be reused meanwhile
        if len(_plans) >= _MAX_PLANS:
            _plans.clear()
        _plans[key] = (stmt, plan)
    return plan


def _values(plan: _Plan, params: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(plan.fixed)
    for k, v in params.items():
        for name in plan.names.get(k, ()):
            values[name] = v
    for name, process in plan.binds.items():
        if name in values:
            values[name] = process(values[name])
    return values


def _learn_results(conn: Connection, plan: _Plan, description: Any) -> None:
    """The result processors SQLAlchemy applies, for the column types the server sent."""
    if description is None or len(description) != len(plan.types):
        plan.direct = False
        return
    results = []
    for i, (type_, column) in enumerate(zip(plan.types, description, strict=True)):
        process = type_._cached_result_processor(conn.dialect, column[1])
        if process is not None:
            results.append((i, process))
    plan.results = tuple(results)


def _through_sqlalchemy(
    conn: Connection, plan: _Plan, stmt: Select[Any], params: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    result = conn.execute(stmt, params)
    if plan.direct and plan.results is None:
        _learn_results(conn, plan, result.cursor.description)
    return [tuple(r) for r in result]


def rows(
    conn: Connection, stmt: Select[Any], params: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """``stmt``'s rows as tuples, in its columns' order (see the module's docstring)."""
    params = params or {}
    plan = _plan(conn, stmt)
    results = plan.results
    if (
        results is None
        or not plan.direct
        or not conn.in_transaction()
        or conn._echo
        or not plan.required <= params.keys()
    ):
        return _through_sqlalchemy(conn, plan, stmt, params)
    raw = conn.connection.dbapi_connection
    if raw is None:  # invalidated: SQLAlchemy reconnects or raises
        return _through_sqlalchemy(conn, plan, stmt, params)
    values = _values(plan, params)
    events = conn._has_events or conn.engine._has_events
    cursor = raw.cursor()
    try:
        if events:
            conn.dispatch.before_cursor_execute(conn, cursor, plan.sql, values, None, False)
        cursor.execute(plan.sql, values)
        out = cast("list[tuple[Any, ...]]", cursor.fetchall())
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, plan.sql, values, None, False)
    except conn.dialect.loaded_dbapi.Error as exc:
        conn._handle_dbapi_exception(exc, plan.sql, values, cursor, None)
    finally:
        cursor.close()
    if results:
        out = [_processed(row, results) for row in out]
    return out


def _processed(row: tuple[Any, ...], results: tuple[tuple[int, Processor], ...]) -> tuple[Any, ...]:
    values = list(row)
    for i, process in results:
        values[i] = process(values[i])
    return tuple(values)


def dicts(
    conn: Connection, stmt: Select[Any], params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """``stmt``'s rows as dicts keyed by its columns' names (labels where given)."""
    keys = _plan(conn, stmt).keys
    return [dict(zip(keys, r, strict=True)) for r in rows(conn, stmt, params)]
