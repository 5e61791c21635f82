"""The status-cycle benchmark: yardstick query vs full status computation, with peak memory.

``python -m arrears.engine.bench 1000000 /tmp/bench`` prints the figures as JSON. The full
status step runs in a child process so its peak RSS is its own (not the generator's).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from arrears.engine.bench_book import BENCH_AS_OF, BENCH_PRODUCTS, generate_bench_book

__all__ = ["run_cycle_benchmark"]


def _yardstick(folder: Path) -> float:
    """A plain DuckDB query: dues and payments summed per loan (the floor to compare with)."""
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.sql(f"""
        WITH d AS (SELECT loan_id, SUM(principal + interest) AS due
                   FROM read_parquet('{folder}/installments.parquet')
                   WHERE due_date <= DATE '{BENCH_AS_OF}' GROUP BY loan_id),
             p AS (SELECT loan_id, SUM(amount) AS paid
                   FROM read_parquet('{folder}/payments.parquet') GROUP BY loan_id)
        SELECT d.loan_id, d.due, COALESCE(p.paid, 0) AS paid
        FROM d LEFT JOIN p USING (loan_id)""").to_arrow_table()  # noqa: S608 - only our own identifiers and quoted paths
    con.close()
    return time.perf_counter() - t0


def _child(folder: str, out: str) -> None:
    """Full status: read Parquet book, compute, write status Parquet (timed phases)."""
    from arrears.engine.book import read_book_dir
    from arrears.engine.status import compute_status_table
    from arrears.engine.status_file import write_status

    products = BENCH_PRODUCTS
    as_of = dt.date.fromisoformat(BENCH_AS_OF)
    t0 = time.perf_counter()
    book = read_book_dir(folder)
    t1 = time.perf_counter()
    table = compute_status_table(book, [as_of], products)
    t2 = time.perf_counter()
    write_status(table, out)
    t3 = time.perf_counter()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "read_s": t1 - t0,
                "compute_s": t2 - t1,
                "write_s": t3 - t2,
                "full_status_s": t3 - t0,
                "peak_rss_mb": peak_kb / 1024,
                "rows": table.num_rows,
            }
        )
    )


def _run_child(folder: Path, out: Path, env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "arrears.engine.bench", "--child", str(folder), str(out)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_cycle_benchmark(loans: int, workdir: str | Path) -> dict[str, Any]:
    """Generate (or reuse) a book of ``loans`` loans in ``workdir`` and time the cycle."""
    work = Path(workdir)
    t0 = time.perf_counter()
    folder = generate_bench_book(work / f"book-{loans}", loans=loans)
    gen_s = time.perf_counter() - t0
    yard = _yardstick(folder)
    out = work / f"status-{loans}.parquet"
    wall0 = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "arrears.engine.bench",
            "--child",
            str(folder),
            str(out),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - wall0
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result.update(
        {
            "loans": loans,
            "generate_s": gen_s,
            "yardstick_s": yard,
            "child_wall_s": wall,
            "as_of": BENCH_AS_OF,
        }
    )
    return result


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        print(json.dumps(run_cycle_benchmark(int(sys.argv[1]), sys.argv[2]), indent=2))
