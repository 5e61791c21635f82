"""``arrears bench strategy``: the default strategy (and the gate) over the benchmark book.

Setup, untimed: the book of ``arrears bench cycle`` (generated once in ``workdir`` and reused)
and its statuses as of ``BENCH_AS_OF`` (``status-{loans}.parquet``, reused when the cycle
benchmark wrote it), plus seeded synthetic features per borrower: city, risk score (20 %
missing), promise status, last outcome, days since a right-party contact, and one past call in
the gate's history for borrowers contacted in the last 7 days.

Timed: evaluating the default strategy for every account (accounts, segments, steps,
proposals), then the compliance gate on every proposal.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from arrears.domain.compliance import (
    Actor,
    ActorKind,
    Channel,
    HistoryEntry,
    Outcome,
    PastAttempt,
    Target,
    TargetKind,
)
from arrears.engine.bench_book import BENCH_AS_OF, BENCH_PRODUCTS, generate_bench_book
from arrears.engine.strategy import evaluate_strategy
from arrears.services.strategy_files import load_arms
from arrears.services.strategy_gate import compliance_decider, gate_table

__all__ = ["main", "synthetic_features"]

_CITIES = np.array(["北京", "上海", "广州", "深圳", "成都", "杭州", "武汉", "西安", "南京", "重庆"])
_OUTCOMES = np.array(["promise_to_pay", "no_answer", "refused", "callback", "switched_off"])
_PROMISES = np.array(["none", "open", "broken", "kept"])


def _status(loans: int, workdir: Path) -> pa.Table:
    path = workdir / f"status-{loans}.parquet"
    folder = generate_bench_book(workdir / f"book-{loans}", loans)
    if path.exists():
        status = pq.read_table(path)
    else:
        from arrears.engine.book import read_book_dir
        from arrears.engine.status import compute_status_table

        as_of = dt.date.fromisoformat(BENCH_AS_OF)
        status = compute_status_table(read_book_dir(folder), [as_of], BENCH_PRODUCTS)
    products = pq.read_table(folder / "loans.parquet", columns=["loan_id", "product"])
    return status.join(products, "loan_id", join_type="left outer")


def synthetic_features(borrower_ids: pa.Array, seed: int = 7) -> pa.Table:
    """Seeded features for the given borrowers (vectorised)."""
    rng = np.random.default_rng(seed)
    n = len(borrower_ids)
    promise = _PROMISES[rng.choice(4, n, p=[0.85, 0.05, 0.05, 0.05])]
    contacted = rng.random(n) < 0.6
    rpc = rng.integers(0, 60, n)
    broken_days = rng.integers(1, 30, n)
    return pa.table(
        {
            "borrower_id": borrower_ids,
            "city": pa.array(_CITIES[rng.integers(0, len(_CITIES), n)]),
            "risk_score": pa.array(rng.random(n), mask=rng.random(n) < 0.2),
            "promise_status": pa.array(promise),
            "last_outcome": pa.array(_OUTCOMES[rng.integers(0, 5, n)], mask=~contacted),
            "days_since_right_party_contact": pa.array(
                rpc.astype(np.int32), mask=~contacted | (rng.random(n) < 0.5)
            ),
            "days_since_promise_broken": pa.array(
                broken_days.astype(np.int32), mask=promise != "broken"
            ),
        }
    )


def _history(
    features: pa.Table, proposals: pa.Table, as_of: dt.date
) -> dict[str, list[HistoryEntry]]:
    """One answered call a few days ago for proposed borrowers contacted in the last 7 days."""
    days = features["days_since_right_party_contact"].to_numpy(zero_copy_only=False)
    recent = np.nan_to_num(days.astype(float), nan=99) < 7
    ids = set(features["borrower_id"].filter(pa.array(recent)).to_pylist())
    ids &= set(proposals["borrower_id"].to_pylist())
    at = dt.datetime.combine(as_of - dt.timedelta(days=3), dt.time(2, 0), dt.UTC)
    call = PastAttempt(
        Channel.CALL,
        Target(TargetKind.BORROWER, "borrower"),
        at,
        Outcome.ANSWERED,
        Actor(ActorKind.COLLECTOR),
    )
    return {b: [call] for b in ids}


def main(loans: int, workdir: Path, console: Console, gate: bool = True) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    as_of = dt.date.fromisoformat(BENCH_AS_OF)
    console.print(f"book of {loans:,} loans in {workdir} (generated once, then reused)")
    status = _status(loans, workdir)
    features = synthetic_features(status["borrower_id"].unique())
    arms = load_arms()
    evaluate_strategy(arms, status.slice(0, 1000), features, as_of)  # warm-up (imports)
    t0 = time.perf_counter()
    proposals = evaluate_strategy(arms, status, features, as_of)
    t1 = time.perf_counter()
    report: dict[str, Any] = {
        "loans": loans,
        "accounts": len(features),
        "proposals": proposals.num_rows,
        "strategy_s": t1 - t0,
    }
    if gate:
        history = _history(features, proposals, as_of)
        t2 = time.perf_counter()
        gated = gate_table(proposals, compliance_decider(as_of, "Asia/Shanghai", history))
        t3 = time.perf_counter()
        allowed = sum(1 for v in gated["allowed"].to_pylist() if v)
        report |= {"gate_s": t3 - t2, "allowed": allowed, "with_history": len(history)}
    _print(console, report)
    (workdir / f"bench-strategy-{loans}.json").write_text(json.dumps(report, indent=2))
    return report


def _print(console: Console, r: dict[str, Any]) -> None:
    table = Table(title=f"strategy benchmark, {r['loans']:,} loans, as of {BENCH_AS_OF}")
    table.add_column("step")
    table.add_column("wall s", justify="right")
    table.add_row(
        f"default strategy: {r['accounts']:,} accounts → {r['proposals']:,} proposals",
        f"{r['strategy_s']:.2f}",
    )
    if "gate_s" in r:
        table.add_row(
            f"compliance gate ({r['allowed']:,} allowed; {r['with_history']:,} with history)",
            f"{r['gate_s']:.2f}",
        )
        table.add_row("total", f"{r['strategy_s'] + r['gate_s']:.2f}")
    console.print(table)
