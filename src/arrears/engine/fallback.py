"""Loans too large for the int64 kernel go through the scalar domain ledger (exact, slower)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arrears.domain.ledger import compute_statuses
from arrears.domain.loans import Installment, LoanTerms, Payment
from arrears.domain.money import from_minor, to_minor
from arrears.domain.products import ProductSettings, RepaymentMethod
from arrears.domain.schedules import schedule_for
from arrears.engine.book import Book
from arrears.engine.columns import MONEY_COLUMNS, STATUS_SCHEMA

__all__ = ["domain_rows", "overflow_loans"]

_EPOCH = dt.date(1970, 1, 1)
_LIMIT = float(2**62)


def overflow_loans(
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


def domain_rows(
    table: pa.Table,
    loans: pa.Table,
    book: Book,
    idx: np.ndarray,
    as_of: np.ndarray,
    prods: Mapping[str, ProductSettings],
    default: ProductSettings,
) -> pa.Table:
    """Replace the rows of loans ``idx`` with the scalar domain's ``compute_status``."""
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
