"""Status of a whole book at one or many as-of dates: Arrow in, kernel, Arrow out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from arrears.domain.errors import Issue, LedgerError, ValidationError
from arrears.domain.products import ProductSettings
from arrears.domain.status import STATUS_COLUMNS
from arrears.engine.book import Book
from arrears.engine.kernel import NO_DATE, OUT_COLUMNS, run_kernel, segment_order
from arrears.engine.schedule import METHOD_CODES, generate_schedules

__all__ = [
    "MONEY_COLUMNS",
    "STATE_SCHEMA",
    "STATUS_SCHEMA",
    "compute_status_table",
    "label_rows",
    "status_from_book",
    "write_status",
]

MONEY_COLUMNS: tuple[str, ...] = (
    "overdue_principal",
    "overdue_interest",
    "accrued_penalty",
    "accrued_compound",
    "principal_outstanding",
    "next_due_amount",
    "credit_balance",
    "total_due_now",
)
STATUS_SCHEMA = pa.schema(
    [
        ("loan_id", pa.string()),
        ("borrower_id", pa.string()),
        ("as_of", pa.date32()),
        ("dpd", pa.int32()),
        ("bucket", pa.string()),
        ("classification", pa.string()),
    ]
    + [(c, pa.int64()) for c in MONEY_COLUMNS[:5]]
    + [("next_due_date", pa.date32())]
    + [(c, pa.int64()) for c in MONEY_COLUMNS[5:]]
    + [("paid_off", pa.bool_())]
)
# State the incremental cycle carries next to each status row (arrears.engine.incremental).
STATE_SCHEMA = pa.schema(
    [
        ("product", pa.string()),
        ("accrual_den", pa.int64()),
        ("penalty_num", pa.int64()),
        ("compound_num", pa.int64()),
        ("penalty_per_day", pa.int64()),
        ("compound_per_day", pa.int64()),
        ("quiet_until", pa.date32()),
    ]
)
_EPOCH = dt.date(1970, 1, 1)
_LAST_DAY = (dt.date(9999, 12, 31) - _EPOCH).days  # "no next event" (a valid SQL date)
_LIMIT = float(2**62)


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
    fallback = _overflow_loans(
        inst_off, prin, inte, pay_off, pay_amt, pen_num, pen_den, due, as_of_days
    )
    if fallback.size:
        table = _domain_rows(table, loans, book, fallback, as_of_days, prods, default)
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


def _overflow_loans(
    inst_off: np.ndarray,
    prin: np.ndarray,
    inte: np.ndarray,
    pay_off: np.ndarray,
    pay_amt: np.ndarray,
    num: np.ndarray,
    den: np.ndarray,
    due: np.ndarray,
    as_of: np.ndarray,
) -> np.ndarray:
    """Loans whose exact accruals could pass 2**62 in int64 (routed to the scalar domain)."""
    n = len(inst_off) - 1
    total = np.zeros(n)
    first_due = np.full(n, float(as_of[-1]))
    has = np.diff(inst_off) > 0
    amt = (prin + inte).astype(np.float64)
    total[has] = np.add.reduceat(amt, inst_off[:-1][has])
    first_due[has] = due[inst_off[:-1][has]]
    span = np.maximum(1.0, as_of[-1] - first_due + 1)
    max_pay = np.zeros(n)
    hp = np.diff(pay_off) > 0
    if hp.any():
        max_pay[hp] = np.maximum.reduceat(pay_amt.astype(np.float64), pay_off[:-1][hp])
    risky = (4 * total * num.astype(np.float64) * span >= _LIMIT) | (
        4 * (max_pay + total) * den.astype(np.float64) >= _LIMIT
    )
    out: np.ndarray = np.nonzero(risky)[0]
    return out


def _domain_rows(
    table: pa.Table,
    loans: pa.Table,
    book: Book,
    idx: np.ndarray,
    as_of: np.ndarray,
    prods: Mapping[str, ProductSettings],
    default: ProductSettings,
) -> pa.Table:
    """Replace the rows of loans ``idx`` with the scalar domain's ``compute_status``."""
    try:
        from arrears.domain.ledger import compute_statuses
        from arrears.domain.schedules import schedule_for
    except ImportError as exc:  # pragma: no cover - the domain ships with the package
        raise LedgerError(
            "amounts too large for the vectorised engine and the scalar ledger is not available"
        ) from exc
    from arrears.domain.loans import Installment, LoanTerms, Payment
    from arrears.domain.money import from_minor, to_minor
    from arrears.domain.products import RepaymentMethod

    sub = loans.take(pa.array(idx)).to_pylist()
    ids = pa.array([r["loan_id"] for r in sub])
    inst_rows: dict[str, list[Installment]] = {}
    if book.installments is not None:
        sel = book.installments.filter(pc.is_in(book.installments["loan_id"], value_set=ids))
        for r in sel.to_pylist():
            inst_rows.setdefault(r["loan_id"], []).append(
                Installment(
                    r["seq"],
                    r["due_date"],
                    from_minor(r["principal_minor"]),
                    from_minor(r["interest_minor"]),
                )
            )
    pay_rows: dict[str, list[Payment]] = {}
    for r in book.payments.filter(pc.is_in(book.payments["loan_id"], value_set=ids)).to_pylist():
        pay_rows.setdefault(r["loan_id"], []).append(
            Payment(r["payment_id"], r["paid_on"], from_minor(r["amount_minor"]))
        )
    rows = []
    for r in sub:
        loan = LoanTerms(
            loan_id=r["loan_id"],
            principal=from_minor(r["principal_minor"]),
            annual_rate=Decimal(r["annual_rate"]),
            term_months=r["term_months"],
            start_date=r["start_date"],
            method=RepaymentMethod(r["method"]),
            borrower_id=r["borrower_id"],
            product=r["product"] or "default",
            penalty_markup=None if r["penalty_markup"] is None else Decimal(r["penalty_markup"]),
            grace_days=r["grace_days"],
        )
        product = prods.get(loan.product, default)
        insts = inst_rows.get(loan.loan_id)
        if insts is None:
            insts = list(schedule_for(loan))
        dates = [_EPOCH + dt.timedelta(days=int(d)) for d in as_of]
        for st in compute_statuses(loan, insts, pay_rows.get(loan.loan_id, []), dates, product):
            row = {c: getattr(st, c) for c in STATUS_SCHEMA.names}
            for c in MONEY_COLUMNS:
                row[c] = to_minor(row[c])
            rows.append(row)
    keep = pc.invert(pc.is_in(table["loan_id"], value_set=ids))
    merged = pa.concat_tables(
        [table.filter(keep), pa.Table.from_pylist(rows, schema=STATUS_SCHEMA)]
    )
    return merged.take(pc.sort_indices(merged, [("loan_id", "ascending"), ("as_of", "ascending")]))


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


def _money_text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    v = np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)
    a = np.abs(v)
    whole = pc.cast(pa.array(a // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(a % 100), pa.string()), 2, "0")
    txt = pc.binary_join_element_wise(whole, frac, ".")
    sign = pa.array(np.where(v < 0, "-", ""), pa.string())
    out: pa.Array = pc.binary_join_element_wise(sign, txt, "")
    return out


def _csv_field(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """RFC 4180: quote a value only when it holds a comma, a quote or a line break."""
    col = pc.cast(col, pa.string())
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(col, '"', '""'), '"', "")
    out = pc.if_else(pc.match_substring_regex(col, '[",\r\n]'), quoted, col)
    return pc.fill_null(out, "")


def write_status(table: pa.Table, path: str | Path) -> None:
    """Write status.csv exactly as interchange.md says, or Parquet when ``path`` ends .parquet.

    CSV: STATUS_COLUMNS in order, amounts with two decimals, ISO dates, ``true``/``false``,
    an empty next_due_date when there is none, rows sorted by loan_id (then as_of), ``\n``.
    """
    path = Path(path)
    order = pc.sort_indices(table, [("loan_id", "ascending"), ("as_of", "ascending")])
    if not np.array_equal(order.to_numpy(), np.arange(table.num_rows)):
        table = table.take(order)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
        return
    cols: list[pa.Array | pa.ChunkedArray] = []
    for c in STATUS_COLUMNS:
        if c in MONEY_COLUMNS:
            cols.append(_money_text(table[c]))
        elif c == "paid_off":
            cols.append(pc.if_else(table[c], "true", "false"))
        else:
            cols.append(_csv_field(table[c]))
    lines = pc.binary_join_element_wise(*cols, ",") if table.num_rows else pa.array([], pa.string())
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(STATUS_COLUMNS) + "\n")
        for chunk in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
            if len(chunk):
                fh.write("\n".join(chunk.to_pylist()) + "\n")
