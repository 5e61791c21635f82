"""Schedules for loans imported without an installments file (loan-math.md "Schedules").

A lender's installments file is the truth; when none was sent for a loan, its schedule is
generated from the loan terms (vectorised, exact) and stored, so the store always holds the
schedule the ledger uses.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from arrears.adapters.db import tables as t
from arrears.engine.schedule import METHOD_CODES, generate_schedules

__all__ = ["generate_missing_schedules"]

_EPOCH = date(1970, 1, 1)
_CHUNK = 20_000


def generate_missing_schedules(conn: Connection) -> int:
    """Store generated schedules for every loan that has none; returns installments written."""
    has_schedule = sa.exists().where(t.installments.c.loan_id == t.loans.c.loan_id)
    rows = conn.execute(
        sa.select(
            t.loans.c.loan_id,
            t.loans.c.principal_minor,
            t.loans.c.annual_rate,
            t.loans.c.term_months,
            t.loans.c.start_date,
            t.loans.c.repayment_method,
        ).where(~has_schedule)
    ).all()
    if not rows:
        return 0
    ids, principal, rates, term, start, method = zip(*rows, strict=True)
    fractions = {r: Fraction(Decimal(str(r))) for r in set(rates)}
    sched = generate_schedules(
        np.array(principal, dtype=np.int64),
        np.array([fractions[r].numerator for r in rates], dtype=np.int64),
        np.array([fractions[r].denominator for r in rates], dtype=np.int64),
        np.array(term, dtype=np.int64),
        np.array([(d - _EPOCH).days for d in start], dtype=np.int64),
        np.array([METHOD_CODES[m] for m in method], dtype=np.int8),
    )
    owner = np.repeat(np.arange(len(ids)), np.diff(sched.off))
    records = [
        {
            "loan_id": ids[o],
            "seq": int(s),
            "due_date": date.fromordinal(_EPOCH.toordinal() + int(d)),
            "principal_minor": int(p),
            "interest_minor": int(i),
        }
        for o, s, d, p, i in zip(
            owner, sched.seq, sched.due, sched.principal, sched.interest, strict=True
        )
    ]
    for first in range(0, len(records), _CHUNK):
        conn.execute(sa.insert(t.installments), records[first : first + _CHUNK])
    return len(records)
