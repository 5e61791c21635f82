"""``arrears bench web`` end to end on a tiny book: COPY load, uvicorn, the load generator.

No timing is asserted (the machine is shared); the report must be complete and error-free.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arrears.benchmarks.web import run_web_benchmark


@pytest.fixture
def bench_database(pg_url: str) -> Iterator[str]:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    yield name
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_bench_web_small(pg_url: str, bench_database: str, tmp_path: Path) -> None:
    def run(**extra: object) -> dict[str, object]:
        return run_web_benchmark(
            **extra,  # type: ignore[arg-type]
            loans=300,
            workdir=tmp_path,
            rate=20,
            seconds=2,
            workers=1,
            pg_url=pg_url,
            database=bench_database,
            warmup=1,
            collectors=3,
            per_collector=20,
            say=lambda _: None,
        )

    report = run()
    assert report["load"]["reused"] is False  # type: ignore[index]
    counts = report["load"]["counts"]  # type: ignore[index]
    assert counts["loans"] == 300
    assert counts["borrowers"] == 150
    assert counts["installments"] > 300
    assert counts["status_history"] == 300 * 7  # the as-of day and six earlier ones
    assert counts["assigned_accounts"] == report["accounts"] == 60
    assert report["collectors"] == 3
    assert report["errors"] == 0, report["error_kinds"]
    assert report["sent"] == report["ok"] == 40
    pages = report["pages"]
    assert isinstance(pages, dict)
    assert pages["queue"]["count"] + pages["account"]["count"] == 40
    for page in ("queue", "account", "all"):
        stats = pages[page]
        assert stats["count"] > 0
        assert stats["errors"] == 0
        assert 0 < stats["p50_ms"] <= stats["p90_ms"] <= stats["p99_ms"] <= stats["max_ms"]
    assert float(report["achieved_rate"]) > 0  # type: ignore[arg-type]
    saved = json.loads(Path(str(report["json"])).read_text())
    assert saved["pages"]["all"]["count"] == 40

    # A second run finds the book in the database and reuses it.
    again = run()
    assert again["load"]["reused"] is True  # type: ignore[index]
    assert again["errors"] == 0, again["error_kinds"]
    # The window's CPU per answered request: the server's (the database's too when the
    # benchmark started its own cluster, not here).
    per_request = again["cpu_ms_per_request"]
    assert isinstance(per_request, dict) and per_request["uvicorn"] > 0

    # No load: CPU and statements per page request in one process.
    cpu = run(cpu_requests=5)
    assert cpu["benchmark"] == "web-cpu"
    for page in ("queue", "account"):
        figures = cpu[page]
        assert isinstance(figures, dict)
        assert figures["requests"] == 5
        assert figures["cpu_ms"] > 0 and figures["bytes"] > 1000
        # The session lookup and the page's reads, in a fixed number of statements.
        assert figures["statements"] == (3 if page == "queue" else 11)
