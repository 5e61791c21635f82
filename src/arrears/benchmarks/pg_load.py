"""Benchmark set-up: a generated Parquet book straight into PostgreSQL with COPY.

The normal import validates every row (about 18 minutes for 1M loans); a benchmark needs the
same rows in the store fast. DuckDB reads the Parquet files (the same conversions as
``arrears.engine.book.read_book_dir``: cents, business dates in the lender's zone) and writes
CSV, which is streamed into PostgreSQL with ``COPY``. Keys, indexes and foreign keys of the
big tables are dropped for the load and built again afterwards. Statuses come from the engine
(``compute_status_table``) and are written with the store's own writer
(``book_store.write_status_rows``). Then collectors, teams, assignments and some contact
history for the desk, and ``ANALYZE``.

A marker table remembers what was loaded: a database that already holds the same book is
reused as it is.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, make_url, text

from arrears.adapters.db.book_store import write_status_rows
from arrears.adapters.db.engine import make_engine, upgrade
from arrears.adapters.db.tables import cycle_runs
from arrears.domain.people import Role
from arrears.domain.products import ProductSettings
from arrears.services.auth import create_team, create_user
from arrears.services.standing import refresh_standing

__all__ = [
    "BENCH_PASSWORD",
    "LOADER_VERSION",
    "PgCluster",
    "ensure_database",
    "load_bench_book",
]

LOADER_VERSION = 1
BENCH_PASSWORD = "bench-pass-123"  # noqa: S105 - the throwaway bench users' password
LENDER_TZ = "Asia/Shanghai"
# The book's tables, loaded by COPY; their keys and indexes are rebuilt after the load.
_BOOK_TABLES = ("borrowers", "loans", "installments", "payments", "status_history")
_ALL_TABLES = (
    "audit_log",
    "api_idempotency",
    "api_tokens",
    "contact_attempts",
    "notes",
    "account_assignments",
    "login_failures",
    "web_sessions",
    "users",
    "teams",
    "contacts",
    "status_history",
    "payments",
    "installments",
    "loans",
    "borrowers",
    "cycle_runs",
    "import_runs",
)
_MARKER = "bench_book_marker"
Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# ---------------------------------------------------------------------------------------------
# A throwaway PostgreSQL cluster (the STACK.md recipe), kept in the benchmark's workdir.


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[4]))
    if not found:
        raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """A local cluster in ``folder`` (created on first use, its data kept between runs)."""

    SETTINGS = (
        "-c shared_buffers=6GB -c max_connections=200 -c work_mem=16MB "
        "-c maintenance_work_mem=1GB -c effective_cache_size=12GB -c random_page_cost=1.1 "
        "-c max_wal_size=8GB -c checkpoint_timeout=30min"
    )

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.bin = _pg_bin()
        self.port = 0

    def _run(self, cmd: str) -> None:
        argv = (
            ["su", "postgres", "-s", "/bin/bash", "-c", cmd]
            if os.geteuid() == 0
            else ["bash", "-c", cmd]
        )
        subprocess.run(argv, check=True, capture_output=True, timeout=600)  # noqa: S603 - ours

    def start(self) -> str:
        """Start the cluster (initdb first when new); returns the server URL."""
        data = self.folder / "data"
        if not (data / "PG_VERSION").exists():
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            if os.geteuid() == 0:
                shutil.chown(self.folder, "postgres")
            self.folder.chmod(0o700)
            self._run(
                f"{self.bin}/initdb -D {data} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8"
            )
        running = self._running_port()
        if running is not None:  # left running by an earlier, interrupted run: reuse it
            self.port = running
            return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.port = _free_port()
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} {self.SETTINGS}"
        self._run(f"{self.bin}/pg_ctl -D {data} -l {self.folder}/log -o '{opts}' -w start")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _running_port(self) -> int | None:
        """The port of this cluster's live postmaster, if one is running."""
        pid = self.postmaster_pid()
        if pid is None:
            return None
        try:
            os.kill(pid, 0)
            lines = (self.folder / "data" / "postmaster.pid").read_text().splitlines()
            return int(lines[3])
        except (OSError, ValueError, IndexError):
            return None

    def postmaster_pid(self) -> int | None:
        pidfile = self.folder / "data" / "postmaster.pid"
        try:
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if (self.folder / "data" / "postmaster.pid").exists():
            self._run(f"{self.bin}/pg_ctl -D {self.folder / 'data'} -m fast -w stop")


def ensure_database(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url`` (created when missing)."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            known = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if known is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


# ---------------------------------------------------------------------------------------------
# The load.


def _exports(folder: Path, now: dt.datetime) -> dict[str, tuple[list[str], str]]:
    """Per table: its columns and the DuckDB query giving them from the Parquet book."""
    src = {f: str(folder / f"{f}.parquet").replace("'", "''") for f in _BOOK_TABLES[:4]}
    ts = f"TIMESTAMPTZ '{now.isoformat()}'"
    cities = "['Beijing','Shanghai','Guangzhou','Shenzhen','Chengdu','Wuhan','Hangzhou','Xian']"
    columns = {
        "borrowers": "borrower_id name phone city country attributes created_at updated_at",
        "loans": (
            "loan_id borrower_id product currency principal_minor annual_rate term_months "
            "start_date repayment_method penalty_markup grace_days attributes restructured "
            "created_at updated_at"
        ),
        "installments": "loan_id seq due_date principal_minor interest_minor",
        "payments": "payment_id loan_id paid_at paid_on amount_minor channel created_at",
    }
    selects = {
        "borrowers": (
            f"borrower_id, name, phone, {cities}[1 + (hash(borrower_id) % 8)::INTEGER], "
            f"'CN', '{{}}', {ts}, {ts}"
        ),
        "loans": (
            "loan_id, borrower_id, COALESCE(product, 'default'), 'CNY', "
            "CAST(principal * 100 AS BIGINT), annual_rate, term_months, start_date, "
            f"LOWER(repayment_method), penalty_markup, grace_days, '{{}}', false, {ts}, {ts}"
        ),
        "installments": (
            "loan_id, seq, due_date, CAST(principal * 100 AS BIGINT), "
            "CAST(interest * 100 AS BIGINT)"
        ),
        "payments": (
            f"payment_id, loan_id, paid_at, CAST(timezone('{LENDER_TZ}', paid_at) AS DATE), "
            f"CAST(amount * 100 AS BIGINT), channel, {ts}"
        ),
    }
    return {
        table: (columns[table].split(), f"SELECT {sql} FROM read_parquet('{src[table]}')")  # noqa: S608 - ours
        for table, sql in selects.items()
    }


def _copy_file(url: str, table: str, columns: list[str], path: Path) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None  # noqa: S101 - a live connection has its driver connection
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)"
            with raw.cursor() as cur:
                cur.execute("SET synchronous_commit = off")
                with cur.copy(sql) as copy, path.open("rb") as f:
                    while block := f.read(1 << 20):
                        copy.write(block)
    finally:
        engine.dispose()


def _constraints(conn: sa.Connection) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Keys and foreign keys touching the book's tables; their other indexes (definitions)."""
    names = ", ".join(f"'{t}'::regclass" for t in _BOOK_TABLES)
    cons = conn.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "  # noqa: S608 - ours
            f"FROM pg_constraint WHERE contype IN ('p', 'u', 'f') "
            f"AND (conrelid IN ({names}) OR confrelid IN ({names})) "
            "ORDER BY CASE contype WHEN 'f' THEN 1 ELSE 0 END"
        )
    ).all()
    idx = conn.execute(
        text(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "  # noqa: S608 - ours
            f"WHERE i.indrelid IN ({names}) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        )
    ).all()
    return [(r[0], r[1], r[2]) for r in cons], [r[0] for r in idx]


@contextmanager
def _without_keys(engine: Engine, steps: dict[str, float], say: Say) -> Iterator[None]:
    """Drop the book tables' keys, foreign keys and indexes; rebuild them afterwards."""
    with engine.begin() as conn:
        cons, indexes = _constraints(conn)
        for table, name, _ in reversed(cons):  # foreign keys first
            conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        for ddl in indexes:
            name = ddl.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    yield
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '1GB'"))
        for table, name, definition in cons:  # keys first, then foreign keys
            conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))
        for ddl in indexes:
            conn.execute(text(ddl))
    steps["keys_s"] = time.perf_counter() - t0
    say(f"keys, foreign keys and indexes rebuilt in {steps['keys_s']:.1f} s")


def _marker(engine: Engine) -> dict[str, Any] | None:
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS {_MARKER} (meta TEXT NOT NULL)"))
        row = conn.execute(text(f"SELECT meta FROM {_MARKER}")).first()  # noqa: S608 - ours
    return json.loads(row[0]) if row else None


def _history_dates(as_of: dt.date, days: int, every: int) -> list[dt.date]:
    return sorted(as_of - dt.timedelta(days=k) for k in range(0, days + 1, every))


def _record_cycle_runs(engine: sa.Engine, dates: Sequence[dt.date]) -> None:
    """A finished cycle run per status date, as the daily cycle leaves them: the desk reads
    a loan's status of today from its run when nothing changed since. Each run started a
    minute after the book was written (the loader stamps rows with 02:00 UTC of the date)."""
    with engine.begin() as conn:
        for day in dates:
            done = conn.execute(
                sa.select(sa.func.count())
                .select_from(cycle_runs)
                .where(cycle_runs.c.as_of == day, cycle_runs.c.status == "done")
            ).scalar_one()
            if done:
                continue
            started = dt.datetime.combine(day, dt.time(2, 1), tzinfo=dt.UTC)
            conn.execute(
                sa.insert(cycle_runs).values(
                    as_of=day, started_at=started, finished_at=started, status="done"
                )
            )


def load_bench_book(
    url: str,
    folder: Path,
    as_of: dt.date,
    products: Mapping[str, ProductSettings],
    *,
    collectors: int = 50,
    per_collector: int = 2000,
    history_days: int = 180,
    history_every: int = 30,
    tmp: Path | None = None,
    say: Say = _quiet,
) -> dict[str, Any]:
    """Load the book of ``folder`` into database ``url`` unless it holds it already.

    Returns what was done and how long each step took (``reused`` when nothing was).
    """
    book_meta = json.loads((folder / "bench_book.json").read_text())
    meta = {
        "book": book_meta,
        "loader": LOADER_VERSION,
        "as_of": as_of.isoformat(),
        "collectors": collectors,
        "per_collector": per_collector,
        "history_days": history_days,
        "history_every": history_every,
    }
    upgrade(url)
    engine = make_engine(url)
    try:
        known = _marker(engine)
        if known is not None and known.get("meta") == meta:
            say("the database holds this book already: reused")
            _record_cycle_runs(engine, [dt.date.fromisoformat(d) for d in known["dates"]])
            _settle(engine, say)
            _prewarm(engine, say)
            return {**known, "reused": True}
        result = _load(
            engine,
            url,
            folder,
            as_of,
            products,
            collectors,
            per_collector,
            _history_dates(as_of, history_days, history_every),
            tmp or folder.parent / "pg-load-tmp",
            say,
        )
        result["meta"] = meta
        _record_cycle_runs(engine, [dt.date.fromisoformat(d) for d in result["dates"]])
        with engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {_MARKER}"))  # noqa: S608 - ours
            conn.execute(
                text(f"INSERT INTO {_MARKER} (meta) VALUES (:m)"),  # noqa: S608 - ours
                {"m": json.dumps(result)},
            )
        _settle(engine, say)
        _prewarm(engine, say)
        return {**result, "reused": False}
    finally:
        engine.dispose()


_NOT_ALL_VISIBLE = text(
    "SELECT relname FROM pg_class WHERE relkind = 'r' "
    "AND relnamespace = 'public'::regnamespace AND relallvisible < relpages ORDER BY relname"
)


def _settle(engine: Engine, say: Say, attempts: int = 3) -> None:
    """VACUUM until every table's pages are all-visible, as autovacuum leaves a quiet database.

    Index-only scans (the work queue's) read the heap for rows on pages not marked
    all-visible. A VACUUM that runs while autovacuum ANALYZEs another table cannot mark the
    pages of the newest rows (the analyze's snapshot holds them back): seen after a load, on
    account_assignments, whose queue pages then fetched 2,000 heap rows each and took twice
    the SQL time. Cheap when the map is complete: VACUUM skips all-visible pages.
    """
    left: list[str] = []
    for attempt in range(attempts):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM"))
            left = list(conn.execute(_NOT_ALL_VISIBLE).scalars())
        if not left:
            return
        time.sleep(1.0 + attempt)  # let a running autovacuum finish
    say(f"tables not all-visible after VACUUM (latencies may be higher): {', '.join(left)}")


def _prewarm(engine: Engine, say: Say) -> None:
    """Read every table and index into shared buffers (``pg_prewarm``), as a database that
    has been serving holds its hot pages, or as ``pg_prewarm``'s autoprewarm restores them
    after a restart. The benchmark starts its cluster anew for every run: without this,
    each run's first visit to an account (most visits, over 100,000 accounts) read ~30
    pages from the operating system's cache (pg_stat_database: 28 reads per request)."""
    t0 = time.perf_counter()
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            blocks = conn.execute(
                text(
                    "SELECT coalesce(sum(pg_prewarm(c.oid)), 0) FROM pg_class c "
                    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i')"
                )
            ).scalar_one()
    except sa.exc.DBAPIError as exc:  # no contrib module: the run goes on, colder
        say(f"pg_prewarm unavailable ({exc.orig}); shared buffers start empty")
        return
    say(
        f"prewarmed {int(blocks) * 8 // 1024:,} MB into shared buffers in "
        f"{time.perf_counter() - t0:.1f} s"
    )


def _load(
    engine: Engine,
    url: str,
    folder: Path,
    as_of: dt.date,
    products: Mapping[str, ProductSettings],
    collectors: int,
    per_collector: int,
    dates: Sequence[dt.date],
    tmp: Path,
    say: Say,
) -> dict[str, Any]:
    import duckdb

    from arrears.engine.book import read_book_dir
    from arrears.engine.status import compute_status_table

    steps: dict[str, float] = {}
    start = time.perf_counter()
    now = dt.datetime.combine(as_of, dt.time(2, 0), tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(_ALL_TABLES)} RESTART IDENTITY CASCADE"))
    tmp.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    try:
        with _without_keys(engine, steps, say):
            t0 = time.perf_counter()
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            files: dict[str, tuple[list[str], Path]] = {}
            for table, (columns, query) in _exports(folder, now).items():
                path = tmp / f"{table}.csv"
                con.execute(f"COPY ({query}) TO '{path}' (FORMAT csv, HEADER false)")
                files[table] = (columns, path)
                (n,) = con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0]  # noqa: S608
                counts[table] = int(n)
            con.close()
            steps["parquet_to_csv_s"] = time.perf_counter() - t0
            say(f"Parquet → CSV in {steps['parquet_to_csv_s']:.1f} s: {counts}")
            t0 = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:  # two COPY streams: two server processes
                order = sorted(files, key=lambda t: -files[t][1].stat().st_size)
                jobs = [pool.submit(_copy_file, url, t, *files[t]) for t in order]
                for job in jobs:
                    job.result()
            steps["copy_s"] = time.perf_counter() - t0
            say(f"COPY into PostgreSQL in {steps['copy_s']:.1f} s")
            t0 = time.perf_counter()
            book = read_book_dir(folder, LENDER_TZ)
            steps["read_book_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            status_rows = 0
            for day in dates:
                table = compute_status_table(book, [day], products, with_state=day == as_of)
                with engine.begin() as conn:
                    conn.exec_driver_sql("SET synchronous_commit = off")
                    write_status_rows(conn, table, None)
                status_rows += table.num_rows
            counts["status_history"] = status_rows
            del book
            steps["statuses_s"] = time.perf_counter() - t0
            say(
                f"statuses of {len(dates)} days ({status_rows:,} rows) computed and written "
                f"in {steps['statuses_s']:.1f} s"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t0 = time.perf_counter()
    desk = _desk(engine, as_of, now, collectors, per_collector)
    counts.update(desk)
    steps["desk_s"] = time.perf_counter() - t0
    say(f"desk: {desk} in {steps['desk_s']:.1f} s")
    t0 = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    steps["analyze_s"] = time.perf_counter() - t0
    steps["total_s"] = time.perf_counter() - start
    say(f"VACUUM ANALYZE in {steps['analyze_s']:.1f} s; load total {steps['total_s']:.1f} s")
    return {"steps": steps, "counts": counts, "dates": [d.isoformat() for d in dates]}


def _desk(
    engine: Engine, as_of: dt.date, now: dt.datetime, collectors: int, per_collector: int
) -> dict[str, int]:
    """Teams of ten collectors; the accounts most in arrears spread over them; some history.

    Each assigned account gets two contact attempts and a note in the month before ``as_of``,
    so the queue's and the account's desk queries have rows to read.
    """
    user_ids: list[int] = []
    with engine.begin() as conn:
        teams: dict[int, int] = {}
        for i in range(collectors):
            team = i // 10
            if team not in teams:
                teams[team] = create_team(conn, f"bench team {team + 1}", now)
            user_ids.append(
                create_user(
                    conn,
                    collector_name(i),
                    BENCH_PASSWORD,
                    Role.COLLECTOR,
                    now,
                    f"Collector {i + 1}",
                    teams[team],
                )
            )
        conn.exec_driver_sql("SET synchronous_commit = off")
        assigned = conn.execute(
            text(
                """
                INSERT INTO account_assignments (borrower_id, user_id, assigned_at, assigned_by,
                                                 rule)
                SELECT borrower_id, (:users)[1 + ((row_number() OVER (ORDER BY k)) - 1) % :n],
                       :now, 'bench', 'balance'
                FROM (
                    SELECT borrower_id, md5(borrower_id) AS k
                    FROM status_history WHERE as_of = :as_of
                    GROUP BY borrower_id
                    HAVING NOT bool_and(paid_off)
                    ORDER BY max(dpd) > 0 DESC, md5(borrower_id)
                    LIMIT :limit
                ) chosen
                """
            ),
            {
                "users": user_ids,
                "n": len(user_ids),
                "now": now,
                "as_of": as_of,
                "limit": collectors * per_collector,
            },
        ).rowcount
        attempts = conn.execute(
            text(
                """
                INSERT INTO contact_attempts (borrower_id, channel, answered, right_party, outcome,
                    next_action_on, recorded_by, at, created_at)
                SELECT a.borrower_id, 'phone', k = 1, k = 1,
                       CASE WHEN k = 1 THEN 'promise_to_pay' ELSE 'no_answer' END,
                       CASE WHEN k = 1 THEN CAST(:as_of AS DATE)
                            + (abs(hashtext(a.borrower_id)) % 14) END,
                       u.username, at, at
                FROM account_assignments a JOIN users u USING (user_id)
                CROSS JOIN generate_series(0, 1) AS k
                CROSS JOIN LATERAL (SELECT CAST(:now AS TIMESTAMPTZ)
                    - make_interval(days => abs(hashtext(a.borrower_id || k)) % 30 + 1) AS at) t
                """
            ),
            {"as_of": as_of, "now": now},
        ).rowcount
        notes = conn.execute(
            text(
                """
                INSERT INTO notes (borrower_id, author, body, created_at)
                SELECT a.borrower_id, u.username, 'Promised to pay after payday; call back.',
                       CAST(:now AS TIMESTAMPTZ) - make_interval(hours => 30)
                FROM account_assignments a JOIN users u USING (user_id)
                """
            ),
            {"now": now},
        ).rowcount
        refresh_standing(conn)
    return {
        "collectors": collectors,
        "assigned_accounts": int(assigned),
        "contact_attempts": int(attempts),
        "notes": int(notes),
    }


def collector_name(i: int) -> str:
    return f"bench_c{i + 1:03d}"
