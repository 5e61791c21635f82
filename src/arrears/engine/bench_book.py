"""A large deterministic synthetic book (Parquet interchange folder) for benchmarks.

Mixed methods and behaviours: good payers (on or a little before the due date), late payers,
partial payers, defaulters who stop paying, and prepayers. About 12 installments and 6
payments per loan on average. Everything is vectorised numpy/pyarrow; a folder generated with
the same parameters is reused.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from arrears.domain.products import ProductSettings
from arrears.engine.schedule import generate_schedules

__all__ = ["BENCH_AS_OF", "BENCH_PRODUCTS", "generate_bench_book"]

# The fixed as-of date the benchmark reports (no clock in the engine).
BENCH_AS_OF = "2026-11-28"
# The two products of the book: "quick" loans have three days of grace.
BENCH_PRODUCTS = {
    "default": ProductSettings(),
    "quick": ProductSettings(code="quick", grace_days=3),
}
_FILES = ("borrowers", "loans", "installments", "payments")
_RATES = np.array(["0.0435", "0.0365", "0.12", "0.18", "0.2399", "0.0"])
_RATE_NUM = np.array([435, 365, 12, 18, 2399, 0])
_RATE_DEN = np.array([10000, 10000, 100, 100, 10000, 1])
_METHODS = np.array(["annuity", "equal_principal", "interest_only", "bullet"])
_TERMS = np.array([3, 6, 12, 12, 18, 24])


def _money(cents: np.ndarray) -> pa.Array:
    """Exact decimal(18,2) from int64 cents (via decimal strings: no binary floats)."""
    whole = pc.cast(pa.array(cents // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    out: pa.Array = pc.binary_join_element_wise(whole, frac, ".").cast(pa.decimal128(18, 2))
    return out


def _ids(prefix: str, idx: np.ndarray) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(idx), pa.string()), 8, "0")
    out: pa.Array = pc.binary_join_element_wise(pa.scalar(prefix), digits, "")
    return out


def generate_bench_book(dir: str | Path, loans: int = 1_000_000, seed: int = 1) -> Path:
    """Write (or reuse) borrowers/loans/installments/payments.parquet in ``dir``."""
    folder = Path(dir)
    meta = {"loans": loans, "seed": seed, "version": 4}
    stamp = folder / "bench_book.json"
    if (
        stamp.exists()
        and json.loads(stamp.read_text()) == meta
        and all((folder / f"{f}.parquet").exists() for f in _FILES)
    ):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = loans
    idx = np.arange(n)
    n_borrowers = max(1, n // 2)
    borrower = rng.integers(0, n_borrowers, n)
    pq.write_table(
        pa.table(
            {
                "borrower_id": _ids("B", np.arange(n_borrowers)),
                "name": _ids("Borrower ", np.arange(n_borrowers)),
                "phone": pc.binary_join_element_wise(
                    pa.scalar("+86138"),
                    pc.cast(pa.array(rng.integers(10**7, 10**8, n_borrowers)), pa.string()),
                    "",
                ),
            }
        ),
        folder / "borrowers.parquet",
    )
    principal = rng.integers(1_000, 200_000, n) * 100 + rng.integers(0, 100, n)
    rate_i = rng.integers(0, len(_RATES), n)
    method = rng.choice(4, n, p=[0.45, 0.25, 0.15, 0.15])
    term = _TERMS[rng.integers(0, len(_TERMS), n)]
    # Loans are mid-life on the as-of date: on average half of their installments are due.
    as_of_day = int(np.datetime64(BENCH_AS_OF, "D").astype(np.int64))
    start = as_of_day - (rng.random(n) * 1.15 * term * 30.44).astype(np.int64)
    markup = np.where(rng.random(n) < 0.2, "0.3", "")
    grace = np.where(rng.random(n) < 0.3, rng.integers(1, 6, n), -1)
    pq.write_table(
        pa.table(
            {
                "loan_id": _ids("L", idx),
                "borrower_id": _ids("B", borrower),
                "product": pa.array(np.where(rng.random(n) < 0.5, "default", "quick")),
                "principal": _money(principal),
                "annual_rate": pa.array(_RATES[rate_i]),
                "term_months": pa.array(term.astype(np.int32)),
                "start_date": pa.array(start.astype(np.int32)).cast(pa.date32()),
                "repayment_method": pa.array(_METHODS[method]),
                "penalty_markup": pa.array(markup, pa.string(), mask=markup == ""),
                "grace_days": pa.array(grace.astype(np.int32), mask=grace < 0),
            }
        ),
        folder / "loans.parquet",
    )
    sched = generate_schedules(principal, _RATE_NUM[rate_i], _RATE_DEN[rate_i], term, start, method)
    counts = np.diff(sched.off)
    owner = np.repeat(idx, counts)
    pq.write_table(
        pa.table(
            {
                "loan_id": _ids("L", owner),
                "seq": pa.array(sched.seq),
                "due_date": pa.array(sched.due.astype(np.int32)).cast(pa.date32()),
                "principal": _money(sched.principal),
                "interest": _money(sched.interest),
            }
        ),
        folder / "installments.parquet",
    )
    _payments(folder, rng, idx, sched.off, sched.due, sched.principal + sched.interest, as_of_day)
    stamp.write_text(json.dumps(meta))
    return folder


def _payments(
    folder: Path,
    rng: np.random.Generator,
    idx: np.ndarray,
    off: np.ndarray,
    due: np.ndarray,
    amount: np.ndarray,
    as_of_day: int,
) -> None:
    n = len(idx)
    counts = np.diff(off)
    # Installments due by the as-of date (a few days ahead for early payers).
    due_by = np.add.reduceat((due <= as_of_day + 5).astype(np.int64), off[:-1]) * (counts > 0)
    # Behaviour: 0 good, 1 late, 2 partial, 3 defaulter, 4 prepayer.
    kind = rng.choice(5, n, p=[0.76, 0.10, 0.04, 0.05, 0.05])
    paid = np.where(kind == 3, np.minimum(due_by, rng.integers(0, 4, n)), due_by)
    paid = np.where(kind == 4, np.minimum(counts, due_by + 1), paid)
    # Bullets: a few partial payments instead of one.
    paid = np.where(counts == 1, rng.integers(0, 7, n), paid)
    pidx = np.repeat(idx, paid)
    pos = np.arange(len(pidx)) - np.repeat(np.cumsum(paid) - paid, paid)
    k = np.minimum(off[pidx] + pos, off[pidx + 1] - 1)
    behaviour = kind[pidx]
    shift = np.select(
        [behaviour == 0, behaviour == 1, behaviour == 2, behaviour == 4],
        [
            -rng.integers(0, 4, len(k)),
            rng.integers(1, 45, len(k)),
            rng.integers(-2, 20, len(k)),
            -rng.integers(20, 40, len(k)),
        ],
        rng.integers(0, 10, len(k)),
    )
    cents = amount[k]
    cents = np.where(behaviour == 2, cents // 2 + 1, cents)
    single = counts[pidx] == 1
    cents = np.where(single, cents // 6 + 1, cents)
    cents = np.where(behaviour == 4, cents * 3, cents)
    day = due[k] + shift
    # Payments that would fall after the as-of date have not happened yet.
    # ... and nothing is paid on an installment of zero (a 0 % interest-only month).
    keep = (day <= as_of_day) & (cents > 0)
    k, pidx, behaviour, cents, day = k[keep], pidx[keep], behaviour[keep], cents[keep], day[keep]
    secs = day * 86400 + rng.integers(0, 86400, len(k)) - 8 * 3600  # local Shanghai time
    ts = pa.array(secs * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="Asia/Shanghai"))
    pq.write_table(
        pa.table(
            {
                "payment_id": _ids("P", np.arange(len(k))),
                "loan_id": _ids("L", pidx),
                "paid_at": ts,
                "amount": _money(cents),
                "channel": pa.array(np.where(behaviour == 0, "auto_debit", "bank_transfer")),
            }
        ),
        folder / "payments.parquet",
    )
