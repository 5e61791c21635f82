"""Status of a whole book at one or many as-of dates: Arrow in, kernel, Arrow out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.products import ProductSettings
from arrears.engine.book import Book
from arrears.engine.columns import MONEY_COLUMNS, STATE_SCHEMA, STATUS_SCHEMA
from arrears.engine.fallback import domain_rows, overflow_loans
from arrears.engine.kernel import NO_DATE, OUT_COLUMNS, run_kernel, segment_order
from arrears.engine.schedule import METHOD_CODES, generate_schedules

__all__ = [
    "MONEY_COLUMNS",
    "STATE_SCHEMA",
    "STATUS_SCHEMA",
    "compute_status_table",
    "label_rows",
    "status_from_book",
]

_EPOCH = dt.date(1970, 1, 1)
_LAST_DAY = (dt.date(9999, 12, 31) - _EPOCH).days  # "no next event" (a valid SQL date)


def _days(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    arr: np.ndarray = pc.cast(col, pa.int32()).to_numpy(zero_copy_only=False)
    arr = arr.astype(np.int64, copy=False)
    return arr


def _index(ids: pa.ChunkedArray | pa.Array, loan_ids: pa.Array, file: str) -> np.ndarray:
    """Row index of each id in ``loan_ids``; hashes one value per run (files are grouped)."""
    chunks = [c for c in (ids.chunks if isinstance(ids, pa.ChunkedArray) else [ids]) if len(c)]
    if not chunks:
        return np.zeros(0, dtype=np.int64)
    rees = [pc.run_end_encode(c) for c in chunks]
    values = pa.chunked_array([r.values for r in rees], type=loan_ids.type)
    idx = pc.index_in(values, value_set=loan_ids)
    if idx.null_count:
        bad = pc.filter(values, pc.is_null(idx))[0]
        raise ValidationError(
            [Issue(file, None, "loan_id", f"unknown loan {bad}")], total=idx.null_count
        )
    lengths = np.concatenate(
        [np.diff(r.run_ends.to_numpy().astype(np.int64), prepend=0) for r in rees]
    )
    out: np.ndarray = np.repeat(idx.to_numpy().astype(np.int64, copy=False), lengths)
    return out


def _csr(owner: np.ndarray, n: int) -> np.ndarray:
    off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=off[1:])
    return off


def _order(owner: np.ndarray, key: np.ndarray) -> np.ndarray | slice:
    """Permutation sorting rows by (owner, key); a no-op slice when already sorted."""
    if owner.size > 1:
        step = np.diff(owner)
        if (step < 0).any():
            out: np.ndarray = np.lexsort((key, owner))
            return out
        if ((step == 0) & (np.diff(key) < 0)).any():
            # Grouped by loan already (the usual file order): sort inside each loan only.
            return segment_order(_csr(owner, int(owner[-1]) + 1), key)
    return slice(None)


def _fraction(text: str) -> Fraction:
    return Fraction(Decimal(text.strip()))


def status_from_book(
    book: Book,
    as_of_days: np.ndarray,
    products: Mapping[str, ProductSettings] | None = None,
    with_state: bool = False,
) -> pa.Table:
    """The status table of ``book`` (any row order) at ``as_of_days`` (days since 1970-01-01)."""
    as_of_days = np.unique(np.asarray(as_of_days, dtype=np.int64))
    loans = book.loans.take(pc.sort_indices(book.loans, [("loan_id", "ascending")]))
    n = loans.num_rows
    loan_ids = loans["loan_id"].combine_chunks()
    prods = dict(products or {})
    default = prods.get("default", ProductSettings())
    codes = loans["product"].fill_null("default").dictionary_encode().combine_chunks()
    settings = [prods.get(str(c), default) for c in codes.dictionary.to_pylist()]
    pidx = codes.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    grace = np.array([s.grace_days for s in settings], dtype=np.int64)[pidx]
    own = loans["grace_days"].fill_null(-1).to_numpy().astype(np.int64, copy=False)
    grace = np.where(own >= 0, own, grace)
    compound = np.array([s.compound_on_overdue_interest for s in settings], np.int8)[pidx]
    # Exact rates per distinct (annual_rate, markup, basis).
    markup = pc.if_else(
        pc.is_null(loans["penalty_markup"]),
        pa.array([str(s.penalty_markup) for s in settings]).take(pa.array(pidx)),
        loans["penalty_markup"],
    )
    basis = np.array([s.day_count_basis for s in settings], dtype=np.int64)[pidx]
    key = pc.binary_join_element_wise(
        loans["annual_rate"], markup, pa.array(basis.astype(str)), "|"
    ).dictionary_encode()
    key = key.combine_chunks()
    rn_u, rd_u, pn_u, pd_u = [], [], [], []
    for k in key.dictionary.to_pylist():
        rate_s, markup_s, basis_s = k.split("|")
        r = _fraction(rate_s)
        p = r * (1 + _fraction(markup_s))
        rn_u.append(r.numerator)
        rd_u.append(r.denominator)
        pn_u.append(p.numerator)
        pd_u.append(p.denominator * int(basis_s))
    kidx = key.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    big = [max(abs(v) for v in u) if u else 0 for u in (rn_u, rd_u, pn_u, pd_u)]
    if max(big, default=0) >= 2**62:
        raise ValidationError([Issue("loans", None, "annual_rate", "rate has too many digits")])
    rate_num = np.array(rn_u, dtype=np.int64)[kidx]
    rate_den = np.array(rd_u, dtype=np.int64)[kidx]
    pen_num = np.array(pn_u, dtype=np.int64)[kidx]
    pen_den = np.array(pd_u, dtype=np.int64)[kidx]
    # Installments, CSR by loan.
    if book.installments is not None:
        inst = book.installments
        owner = _index(inst["loan_id"], loan_ids, "installments")
        due = _days(inst["due_date"])
        order = _order(owner, due)
        owner = owner[order]
        inst_off = _csr(owner, n)
        due = due[order]
        prin = inst["principal_minor"].to_numpy().astype(np.int64, copy=False)[order]
        inte = inst["interest_minor"].to_numpy().astype(np.int64, copy=False)[order]
    else:
        methods = pc.index_in(loans["method"], value_set=pa.array(list(METHOD_CODES)))
        if methods.null_count:
            raise ValidationError(
                [Issue("loans", None, "repayment_method", "unknown repayment method")],
                total=methods.null_count,
            )
        sched = generate_schedules(
            loans["principal_minor"].to_numpy(),
            rate_num,
            rate_den,
            loans["term_months"].to_numpy(),
            _days(loans["start_date"]),
            methods.to_numpy(zero_copy_only=False),
        )
        inst_off, due, prin, inte = sched.off, sched.due, sched.principal, sched.interest
    # Payments, CSR by loan, sorted by day.
    pays = book.payments
    powner = _index(pays["loan_id"], loan_ids, "payments")
    pday = _days(pays["paid_on"])
    porder = _order(powner, pday)
    pay_off = _csr(powner[porder], n)
    pay_day = pday[porder]
    pay_amt = pays["amount_minor"].to_numpy().astype(np.int64, copy=False)[porder]
    out = run_kernel(
        inst_off,
        due,
        prin,
        inte,
        pay_off,
        pay_day,
        pay_amt,
        pen_num,
        pen_den,
        grace,
        compound,
        as_of_days,
    )
    table = _to_table(loans, out, as_of_days, settings, pidx)
    fallback = overflow_loans(
        inst_off, prin, inte, pay_off, pay_amt, pen_num, pen_den, due, as_of_days
    )
    if fallback.size:
        table = domain_rows(table, loans, book, fallback, as_of_days, prods, default)
    if with_state:
        table = _with_state(table, loans, out, as_of_days, pen_den, fallback)
    return table


def _with_state(
    table: pa.Table,
    loans: pa.Table,
    out: np.ndarray,
    as_of: np.ndarray,
    den: np.ndarray,
    fallback: np.ndarray,
) -> pa.Table:
    """Append STATE_SCHEMA columns (rows are in the kernel's order: loan, then as_of)."""
    na = len(as_of)
    rows = np.repeat(np.arange(loans.num_rows), na)
    col = {c: out[:, j] for j, c in enumerate(OUT_COLUMNS)}
    quiet = np.minimum(col["quiet_until"], _LAST_DAY).astype(np.int64)
    if fallback.size:  # loans on the scalar path are always recomputed
        quiet[np.isin(rows, fallback)] = np.tile(as_of, loans.num_rows)[np.isin(rows, fallback)]
    state = {
        "product": loans["product"].take(pa.array(rows)),
        "accrual_den": pa.array(den[rows]),
        "penalty_num": pa.array(col["penalty_num"]),
        "compound_num": pa.array(col["compound_num"]),
        "penalty_per_day": pa.array(col["penalty_per_day"]),
        "compound_per_day": pa.array(col["compound_per_day"]),
        "quiet_until": pa.array(quiet.astype(np.int32), pa.int32()).cast(pa.date32()),
    }
    for f in STATE_SCHEMA:
        table = table.append_column(f, state[f.name])
    return table


def label_rows(
    dpd: np.ndarray,
    product: pa.ChunkedArray | pa.Array,
    products: Mapping[str, ProductSettings] | None = None,
) -> tuple[pa.Array, pa.Array]:
    """Bucket and classification for DPD values of loans of the given product codes."""
    prods = dict(products or {})
    default = prods.get("default", ProductSettings())
    codes = pc.dictionary_encode(pc.fill_null(product, "default"))
    if isinstance(codes, pa.ChunkedArray):
        codes = codes.combine_chunks()
    settings = [prods.get(str(c), default) for c in codes.dictionary.to_pylist()]
    pidx = codes.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return _label(dpd, pidx, settings)


def _label(
    dpd: np.ndarray,
    pidx_rows: np.ndarray,
    settings: Sequence[ProductSettings],
) -> tuple[pa.Array, pa.Array]:
    bucket = np.empty(len(dpd), dtype=object)
    klass = np.empty(len(dpd), dtype=object)
    for j, s in enumerate(settings):
        sel = pidx_rows == j
        if not sel.any():
            continue
        d = dpd[sel]
        m = min(len(s.bucket_edges), len(s.bucket_names))
        names = np.array([*list(s.bucket_names[:m]), s.bucket_names[-1]], dtype=object)
        i = np.searchsorted(np.array(s.bucket_edges[:m], dtype=np.int64), d, side="left")
        bucket[sel] = names[i]
        bounds = np.array([b for b, _ in s.classification.bounds], dtype=np.int64)
        cls = np.array(
            [c.value for _, c in s.classification.bounds] + [s.classification.worst.value],
            dtype=object,
        )
        klass[sel] = cls[np.searchsorted(bounds, d, side="left")]
    return pa.array(bucket, pa.string()), pa.array(klass, pa.string())


def _to_table(
    loans: pa.Table,
    out: np.ndarray,
    as_of: np.ndarray,
    settings: Sequence[ProductSettings],
    pidx: np.ndarray,
) -> pa.Table:
    na = len(as_of)
    rows = np.repeat(np.arange(loans.num_rows), na)
    col = {c: out[:, j] for j, c in enumerate(OUT_COLUMNS)}
    dpd = col["dpd"]
    bucket, klass = _label(dpd, pidx[rows], settings)
    take = pa.array(rows)
    nd = col["next_due_day"]
    arrays: dict[str, pa.Array] = {
        "loan_id": loans["loan_id"].take(take),
        "borrower_id": loans["borrower_id"].take(take),
        "as_of": pa.array(np.tile(as_of, loans.num_rows).astype(np.int32), pa.int32()).cast(
            pa.date32()
        ),
        "dpd": pa.array(dpd.astype(np.int32)),
        "bucket": bucket,
        "classification": klass,
        "next_due_date": pa.array(nd.astype(np.int32), pa.int32(), mask=nd == NO_DATE).cast(
            pa.date32()
        ),
        "paid_off": pa.array(col["paid_off"] != 0),
    }
    for c in MONEY_COLUMNS:
        arrays[c] = pa.array(col[c])
    return pa.table([arrays[f.name] for f in STATUS_SCHEMA], schema=STATUS_SCHEMA)


def compute_status_table(
    book: Book,
    as_of_dates: Sequence[dt.date],
    products: Mapping[str, ProductSettings] | None = None,
    engine: str = "duckdb",
    with_state: bool = False,
) -> pa.Table:
    """Status of every loan of ``book`` at every date, sorted by loan_id then as_of.

    Money columns are int64 minor units. ``engine="spark"`` runs the same kernel on Spark.
    ``with_state`` appends STATE_SCHEMA's columns (DuckDB engine), for incremental cycles.
    """
    days = np.array([(d - _EPOCH).days for d in as_of_dates], dtype=np.int64)
    if days.size == 0:
        return STATUS_SCHEMA.empty_table()
    if engine == "spark":
        from arrears.engine.spark import status_from_book_spark

        return status_from_book_spark(book, as_of_dates, products)
    if engine != "duckdb":
        raise ValueError(f"unknown engine {engine!r}")
    return status_from_book(book, days, products, with_state)
