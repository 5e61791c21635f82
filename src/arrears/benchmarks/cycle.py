"""``arrears bench cycle``: full status and one incremental day on a generated Parquet book.

Steps, each timed (wall clock) with the peak memory of its own child process:

1. generate (or reuse) the book: ``loans`` loans, ~12 installments and ~6 payments each;
2. yardstick: a plain DuckDB query that only sums dues and payments per loan;
3. full status as of the book's date D (read Parquet → kernel → status Parquet);
4. incremental day: given the statuses of D−1, recompute only what changed or can move on D
   (``arrears.engine.incremental``), carry the rest forward, write the statuses of D;
   then check the result equals the full computation of step 3, row for row.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from arrears.engine.bench import run_cycle_benchmark
from arrears.engine.bench_book import BENCH_AS_OF, BENCH_PRODUCTS

__all__ = ["incremental_day", "main"]


def write_day_delta(folder: Path, as_of: dt.date) -> Path:
    """The day's payments as core banking sends them each day (a delta file), once, untimed."""
    import duckdb

    delta = folder / "delta" / f"payments-{as_of.isoformat()}.parquet"
    if not delta.exists():
        delta.parent.mkdir(exist_ok=True)
        day = as_of.isoformat()
        duckdb.connect().execute(
            f"COPY (SELECT * FROM read_parquet('{folder}/payments.parquet') "  # noqa: S608 - ours
            f"WHERE paid_at >= TIMESTAMPTZ '{day} 00:00:00+08' "
            f"AND paid_at < TIMESTAMPTZ '{day} 00:00:00+08' + INTERVAL 1 DAY) "
            f"TO '{delta}' (FORMAT parquet)"
        )
    return delta


def incremental_day(
    folder: Path, previous: Path, as_of: dt.date, out: Path, mirror: Path | None = None
) -> dict[str, Any]:
    """One incremental cycle over a Parquet book; returns timings and counts.

    The day's new payments come as a delta file (``write_day_delta``). Loans without a payment
    that day whose previous state is quiet through the day advance from that state
    (``arrears.engine.incremental.advance``); the rest are replayed from their history, read
    from the book's loan-ordered mirror (``arrears.engine.mirror``) when given, else from the
    book's files.
    The output carries the state for the next day.
    """
    from arrears.engine.book import read_book_dir
    from arrears.engine.incremental import advance
    from arrears.engine.mirror import read_mirror
    from arrears.engine.status import compute_status_table

    t0 = time.perf_counter()
    prev = feather.read_table(previous)
    new_payments = pq.read_table(folder / "delta" / f"payments-{as_of.isoformat()}.parquet")
    paid_today = pc.is_in(prev["loan_id"], value_set=new_payments["loan_id"].unique())
    quiet = pc.greater_equal(prev["quiet_until"], pa.scalar(as_of, pa.date32()))
    keep = pc.and_kleene(quiet, pc.invert(paid_today))
    advanced = advance(prev.filter(keep), as_of, BENCH_PRODUCTS)
    todo = pc.filter(prev["loan_id"], pc.invert(keep))
    t1 = time.perf_counter()
    ids = todo.combine_chunks()
    book = read_mirror(mirror, ids) if mirror else read_book_dir(folder, loan_ids=ids)
    t2 = time.perf_counter()
    fresh = compute_status_table(book, [as_of], BENCH_PRODUCTS, with_state=True)
    t3 = time.perf_counter()
    # The state feeds the next day: Arrow IPC, unsorted (status files for people are sorted).
    feather.write_feather(
        pa.concat_tables([fresh, advanced.cast(fresh.schema)]), out, compression="uncompressed"
    )
    t4 = time.perf_counter()
    return {
        "plan_s": t1 - t0,
        "read_s": t2 - t1,
        "compute_s": t3 - t2,
        "write_s": t4 - t3,
        "incremental_day_s": t4 - t0,
        "recomputed": len(todo),
        "carried": advanced.num_rows,
    }


def _child_incremental(
    folder: str, previous: str, as_of: str, out: str, warmup: str, mirror: str
) -> None:
    """Times the day twice: as a fresh process would, and in a worker whose kernel is loaded."""
    start = time.perf_counter()
    from arrears.engine.book import read_book_dir
    from arrears.engine.status import compute_status_table

    # A daily worker has the JIT-compiled kernel loaded; a fresh CLI process loads it first.
    compute_status_table(read_book_dir(warmup), [dt.date.fromisoformat(as_of)], BENCH_PRODUCTS)
    startup = time.perf_counter() - start
    result = incremental_day(
        Path(folder), Path(previous), dt.date.fromisoformat(as_of), Path(out), Path(mirror)
    )
    result["startup_s"] = startup
    result["process_s"] = time.perf_counter() - start
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _child_full(folder: str, as_of: str, out: str, mirror: str) -> None:
    """The previous day's full run: its statuses with state, and the book's mirror."""
    from arrears.engine.book import read_book_dir
    from arrears.engine.mirror import write_mirror
    from arrears.engine.status import compute_status_table

    t0 = time.perf_counter()
    book = read_book_dir(folder)
    table = compute_status_table(
        book, [dt.date.fromisoformat(as_of)], BENCH_PRODUCTS, with_state=True
    )
    feather.write_feather(table, out, compression="uncompressed")  # the state for the next day
    t1 = time.perf_counter()
    write_mirror(book, mirror)
    print(json.dumps({"seconds": t1 - t0, "mirror_s": time.perf_counter() - t1}))


def _run_child(*args: str) -> dict[str, Any]:
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "arrears.benchmarks.cycle", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(loans: int, workdir: Path, console: Console) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    # Measure an installed system: compiled bytecode and numba's cache in place. A shell that
    # forbids writing bytecode would make every child compile the stack from source.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    console.print("warming up (bytecode and compiled kernels) on a 2,000-loan book")
    run_cycle_benchmark(2_000, workdir / "warmup")
    console.print(f"book of {loans:,} loans in {workdir} (generated once, then reused)")
    full = run_cycle_benchmark(loans, workdir)
    folder = workdir / f"book-{loans}"
    as_of = dt.date.fromisoformat(BENCH_AS_OF)
    write_day_delta(folder, as_of)
    previous = workdir / f"state-{loans}-prev.arrow"
    mirror = workdir / f"mirror-{loans}"
    prev_run = _run_child(
        "--full",
        str(folder),
        (as_of - dt.timedelta(days=1)).isoformat(),
        str(previous),
        str(mirror),
    )
    inc_out = workdir / f"state-{loans}-incremental.arrow"
    warmup = workdir / "warmup" / "book-2000"
    inc = _run_child(
        "--incremental",
        str(folder),
        str(previous),
        BENCH_AS_OF,
        str(inc_out),
        str(warmup),
        str(mirror),
    )
    inc["mirror_build_s"] = prev_run["mirror_s"]
    full_table = pq.read_table(workdir / f"status-{loans}.parquet")
    same = (
        feather.read_table(inc_out)
        .select(full_table.column_names)
        .sort_by("loan_id")
        .equals(full_table)
    )
    report = {
        "loans": loans,
        "as_of": BENCH_AS_OF,
        "full": full,
        "incremental": inc,
        "incremental_equals_full": same,
    }
    _print(console, report)
    (workdir / f"bench-cycle-{loans}.json").write_text(json.dumps(report, indent=2))
    return report


def _print(console: Console, r: dict[str, Any]) -> None:
    full, inc = r["full"], r["incremental"]
    table = Table(title=f"cycle benchmark, {r['loans']:,} loans, as of {r['as_of']}")
    table.add_column("step")
    table.add_column("wall s", justify="right")
    table.add_column("peak RSS MB", justify="right")
    table.add_row(
        "yardstick: DuckDB sums dues + payments per loan", f"{full['yardstick_s']:.2f}", ""
    )
    table.add_row(
        "full status (read + compute + write)",
        f"{full['full_status_s']:.2f}",
        f"{full['peak_rss_mb']:.0f}",
    )
    table.add_row(
        f"incremental day, whole process incl. start-up ({inc['startup_s']:.2f} s)",
        f"{inc['process_s']:.2f}",
        "",
    )
    table.add_row(
        f"incremental day in a warm worker ({inc['recomputed']:,} replayed, "
        f"{inc['carried']:,} advanced)",
        f"{inc['incremental_day_s']:.2f}",
        f"{inc['peak_rss_mb']:.0f}",
    )
    console.print(table)
    console.print(
        f"the book's loan-ordered mirror, written once by the previous day's run: "
        f"{inc['mirror_build_s']:.2f} s"
    )
    console.print(f"incremental result equals full recomputation: {r['incremental_equals_full']}")


if __name__ == "__main__":
    if sys.argv[1] == "--incremental":
        _child_incremental(*sys.argv[2:8])
    elif sys.argv[1] == "--full":
        _child_full(*sys.argv[2:6])
