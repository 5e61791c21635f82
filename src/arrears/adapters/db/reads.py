"""The hot pages' statements through the driver's cursor, with SQLAlchemy's own conversions.

On PostgreSQL (psycopg) a reused, cached statement costs ~100 µs of client CPU through
``Connection.execute`` and ~45 µs through the driver's cursor: the difference is the execution
context, result metadata (psycopg builds a ``Column`` per field of ``cursor.description`` on
every access), ``Row`` objects and the events machinery. The desk's pages run a dozen such
statements per request (docs/benchmarks.md).

:func:`rows` runs a ``SELECT`` built once (a module-level or ``@cache`` statement with bound
parameters) on the transaction's own DBAPI connection: its SQL compiled once for the dialect,
the literal values it carries and the caller's parameters passed through SQLAlchemy's bind
processors of their types, and each result column through the result processor SQLAlchemy
would apply to it (learnt on the statement's first run, which goes through SQLAlchemy, from
the column types the server sent). So the values are SQLAlchemy's — an instant comes back in
UTC through ``UTCDateTime`` either way. :func:`write` does the same for an INSERT, UPDATE or
DELETE whose result is not read, unless SQLAlchemy would compute a value at execution (a
Python-side default or onupdate).

Everything else takes ``Connection.execute``: another driver (SQLite), expanding (``IN``)
parameters, a connection outside a transaction, echo on. Listeners of
``before_cursor_execute`` / ``after_cursor_execute`` are called on the direct path too
(statement counters in tests and benchmarks see every statement), and driver errors are
raised as SQLAlchemy's, a lost connection invalidated, as ``Connection.execute`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Lock
from typing import Any, cast

from sqlalchemy import Connection
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase

__all__ = ["dicts", "prefetched", "rows", "write"]


Processor = Callable[[Any], Any]


@dataclass(slots=True)
class _Bound:
    """A statement compiled once for a dialect, and how its parameters are bound."""

    sql: str
    fixed: dict[str, Any]  # the statement's literal values, by bind name
    names: dict[str, tuple[str, ...]]  # caller's key -> bind names
    required: frozenset[str]  # caller's keys without which SQLAlchemy raises
    binds: dict[str, Processor]  # bind name -> SQLAlchemy's bind processor
    direct: bool  # False: always through SQLAlchemy


def _bound(compiled: Any, dialect: Any) -> _Bound:
    binds = compiled.binds.values()
    escaped = compiled.escaped_bind_names
    names: dict[str, list[str]] = {}
    for bind, name in compiled.bind_names.items():
        names.setdefault(bind.key, []).append(escaped.get(name, name))
    return _Bound(
        sql=compiled.string,
        fixed=dict(compiled.construct_params(_check=False)),
        names={k: tuple(v) for k, v in names.items()},
        required=frozenset(b.key for b in binds if b.required),
        binds=cast("dict[str, Processor]", dict(compiled._bind_processors)),
        direct=(
            dialect.driver == "psycopg"
            and not compiled.positional
            and not any(b.expanding or b.literal_execute for b in binds)
        ),
    )


@dataclass(slots=True)
class _Plan(_Bound):
    keys: tuple[str, ...] = ()  # each result column's name (labels where given)
    types: tuple[Any, ...] = ()  # each result column's SQLAlchemy type
    results: tuple[tuple[int, Processor], ...] | None = None  # known after the first run


_plans: dict[tuple[int, str], tuple[Select[Any], _Plan]] = {}
_writes: dict[tuple[int, str, tuple[str, ...]], tuple[UpdateBase, _Bound]] = {}
_lock = Lock()
_MAX_PLANS = 4096  # statements are built once each; the bound only guards against misuse


def _remember(cache: dict[Any, Any], key: Any, stmt: Any, plan: Any) -> None:
    with _lock:  # the statement is kept with its plan: its id cannot be reused meanwhile
        if len(cache) >= _MAX_PLANS:
            cache.clear()
        cache[key] = (stmt, plan)


def _plan(conn: Connection, stmt: Select[Any]) -> _Plan:
    dialect = conn.dialect
    key = (id(stmt), dialect.name)
    known = _plans.get(key)
    if known is not None and known[0] is stmt:
        return known[1]
    compiled = stmt.compile(dialect=dialect)
    bound = _bound(compiled, dialect)
    plan = _Plan(
        bound.sql,
        bound.fixed,
        bound.names,
        bound.required,
        bound.binds,
        bound.direct,
        keys=tuple(entry.keyname for entry in compiled._result_columns),
        types=tuple(entry.type for entry in compiled._result_columns),
    )
    _remember(_plans, key, stmt, plan)
    return plan


def _values(plan: _Bound, params: Mapping[str, Any]) -> dict[str, Any]:
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
    store = _prefetched.get(id(conn))
    if store:
        try:
            hit = store.pop(_key(stmt, params), None)
        except TypeError:  # an unhashable parameter (a list): never prefetched
            hit = None
        if hit is not None:
            return hit
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
    out = _execute(conn, raw, plan.sql, _values(plan, params), fetch=True)
    if results:
        out = [_processed(row, results) for row in out]
    return out


def _execute(
    conn: Connection, raw: Any, sql: str, values: dict[str, Any], *, fetch: bool
) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the DBAPI connection as ``Connection.execute`` would: listeners
    called, a driver error raised as SQLAlchemy's (a lost connection invalidated)."""
    events = conn._has_events or conn.engine._has_events
    cursor = raw.cursor()
    out: list[tuple[Any, ...]] = []
    try:
        if events:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, values, None, False)
        cursor.execute(sql, values)
        if fetch:
            out = cast("list[tuple[Any, ...]]", cursor.fetchall())
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, values, None, False)
    except conn.dialect.loaded_dbapi.Error as exc:
        conn._handle_dbapi_exception(exc, sql, values, cursor, None)
    finally:
        cursor.close()
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


# Writes: an INSERT, UPDATE or DELETE run once per request with its parameters (the audit row
# of every PII view), nothing read back.


def _write_plan(conn: Connection, stmt: UpdateBase, keys: tuple[str, ...]) -> _Bound:
    dialect = conn.dialect
    key = (id(stmt), dialect.name, keys)
    known = _writes.get(key)
    if known is not None and known[0] is stmt:
        return known[1]
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    plan = _bound(compiled, dialect)
    # Not direct when SQLAlchemy computes something at execution: a column's Python-side
    # default or onupdate (prefetch), or a parameter not given (SQLAlchemy's error).
    plan.direct = (
        plan.direct
        and not compiled.insert_prefetch
        and not compiled.update_prefetch
        and plan.required <= set(keys)
    )
    _remember(_writes, key, stmt, plan)
    return plan


def write(conn: Connection, stmt: UpdateBase, params: Mapping[str, Any]) -> None:
    """Run ``stmt`` (built once) with ``params``, like ``conn.execute(stmt, params)`` with its
    result unread: on psycopg through the driver's cursor, SQLAlchemy's bind processors
    applied; otherwise — or when SQLAlchemy would compute a default — through SQLAlchemy."""
    plan = _write_plan(conn, stmt, tuple(sorted(params)))
    raw = conn.connection.dbapi_connection if plan.direct else None
    if raw is None or not conn.in_transaction() or conn._echo:
        conn.execute(stmt, dict(params))
        return
    _execute(conn, raw, plan.sql, _values(plan, params), fetch=False)


# Prefetching: a page's independent reads sent together. On psycopg they go out in one
# pipeline (psycopg's pipeline mode): one round trip instead of one per statement, and the
# server runs them back to back instead of waking once per statement.

Read = tuple[Select[Any], Mapping[str, Any]]
_prefetched: dict[int, dict[tuple[int, tuple[tuple[str, Any], ...]], list[tuple[Any, ...]]]] = {}


def _key(stmt: Select[Any], params: Mapping[str, Any]) -> tuple[int, tuple[tuple[str, Any], ...]]:
    return id(stmt), tuple(sorted(params.items()))


@contextmanager
def prefetched(conn: Connection, reads: Sequence[Read]) -> Iterator[None]:
    """Run ``reads`` now, together; inside the block, :func:`rows` (and :func:`dicts`) of the
    same statement and parameters on ``conn`` return those results (once each) instead of
    asking again. Reads that cannot take the driver path — or any, on another driver — are
    simply not prefetched: they run when asked, as always. Values are the same either way."""
    store: dict[tuple[int, tuple[tuple[str, Any], ...]], list[tuple[Any, ...]]] = {}
    raw = (
        conn.connection.dbapi_connection
        if conn.in_transaction() and not conn._echo and conn.dialect.driver == "psycopg"
        else None
    )
    if raw is not None:
        ready = []
        for stmt, params in reads:
            plan = _plan(conn, stmt)
            if plan.direct and plan.results is not None and plan.required <= params.keys():
                ready.append((stmt, params, plan))
        if len(ready) > 1:
            outs = _pipeline(conn, raw, [(p.sql, _values(p, params)) for _, params, p in ready])
            for (stmt, params, plan), out in zip(ready, outs, strict=True):
                results = plan.results
                store[_key(stmt, params)] = (
                    [_processed(row, results) for row in out] if results else out
                )
    _prefetched[id(conn)] = store
    try:
        yield
    finally:
        _prefetched.pop(id(conn), None)


def _pipeline(
    conn: Connection, raw: Any, items: list[tuple[str, dict[str, Any]]]
) -> list[list[tuple[Any, ...]]]:
    events = conn._has_events or conn.engine._has_events
    cursors: list[Any] = []
    sql, values = items[0]
    try:
        with raw.pipeline():
            for sql, values in items:
                cursor = raw.cursor()
                cursors.append(cursor)
                if events:
                    conn.dispatch.before_cursor_execute(conn, cursor, sql, values, None, False)
                cursor.execute(sql, values)
            outs = [cast("list[tuple[Any, ...]]", c.fetchall()) for c in cursors]
        if events:
            for cursor, (sql, values) in zip(cursors, items, strict=True):
                conn.dispatch.after_cursor_execute(conn, cursor, sql, values, None, False)
    except conn.dialect.loaded_dbapi.Error as exc:
        conn._handle_dbapi_exception(exc, sql, values, cursors[-1] if cursors else None, None)
    finally:
        for cursor in cursors:
            cursor.close()
    return outs
