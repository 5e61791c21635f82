"""The ledger kernel: loan-math.md / docs/ledger.md over CSR arrays, compiled with numba.

Every loan is independent, so the kernel runs over loans in parallel (``prange``). Inside one
loan it is event driven: it jumps between the days on which something changes (a payment, the
first overdue day ``due + 1`` of an installment, the end of its grace ``due + grace`` and the
day after, an as-of day) and accrues the quiet days in between in one multiplication.

Units: money in int64 minor units (cents). An accrual is an exact integer numerator over the
loan's denominator ``DEN = basis * rate_den`` where ``penalty_rate = rate_num / rate_den``:
one day on ``x`` cents overdue adds ``x * rate_num`` to the numerator. ``round2`` of a
numerator ``a`` is ``(2a + DEN) // (2 DEN)`` cents (half up; accruals are never negative).
Callers must route loans whose products could pass 2**62 elsewhere (see ``status.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["NO_DATE", "OUT_COLUMNS", "run_kernel"]

# next_due_day when there is no next installment.
NO_DATE = np.iinfo(np.int64).min

# Columns of the int64 output matrix, in order.
OUT_COLUMNS: tuple[str, ...] = (
    "dpd",
    "overdue_principal",
    "overdue_interest",
    "accrued_penalty",
    "accrued_compound",
    "principal_outstanding",
    "next_due_day",
    "next_due_amount",
    "credit_balance",
    "total_due_now",
    "paid_off",
    # State for the incremental cycle (see arrears.engine.incremental.advance):
    "penalty_num",  # owed penalty, exact numerator over the loan's denominator
    "compound_num",  # owed compound interest, the same
    "penalty_per_day",  # what each following quiet day adds to penalty_num
    "compound_per_day",  # ... and to compound_num
    "quiet_until",  # last day on which only accrual and DPD move (absent payments)
)
_NCOL = len(OUT_COLUMNS)
_BIG = np.iinfo(np.int64).max


@njit(cache=True)
def _round2(a: int, den: int) -> int:
    return (2 * a + den) // (2 * den)


@njit(cache=True)
def _first_unpaid(cum: np.ndarray, lo: int, hi: int, s: int, f: int) -> int:
    """Advance ``f`` (absolute index) to the first installment with ``cum > s``; ``hi`` if none."""
    while f < hi and cum[f] <= s:
        f += 1
    return f


@njit(cache=True)
def _unpaid_range(
    cum: np.ndarray,
    inte: np.ndarray,
    prin: np.ndarray,
    pre_i: np.ndarray,
    pre_p: np.ndarray,
    lo: int,
    f: int,
    m: int,
    c: int,
) -> tuple[int, int]:
    """Unpaid (interest, principal) of installments ``lo .. m-1`` (absolute) given coverage ``c``.

    ``f`` is the first installment not paid in full under ``c``. ``pre_i[k]`` / ``pre_p[k]``
    are the sums of interest / principal of installments ``lo .. k`` inclusive.
    """
    if f >= m:
        return 0, 0
    start = cum[f - 1] if f > lo else 0
    covered = c - start
    if covered < 0:
        covered = 0
    ui = inte[f] - min(inte[f], covered)
    up = prin[f] - max(0, covered - inte[f])
    ui += pre_i[m - 1] - pre_i[f]
    up += pre_p[m - 1] - pre_p[f]
    return ui, up


@njit(cache=True)
def _one_unpaid(
    cum: np.ndarray, inte: np.ndarray, prin: np.ndarray, lo: int, k: int, c: int
) -> tuple[int, int]:
    start = cum[k - 1] if k > lo else 0
    covered = c - start
    if covered < 0:
        covered = 0
    amt = inte[k] + prin[k]
    if covered > amt:
        covered = amt
    return inte[k] - min(inte[k], covered), prin[k] - max(0, covered - inte[k])


@njit(cache=True)
def _loan(
    i_lo: int,
    i_hi: int,
    due: np.ndarray,
    prin: np.ndarray,
    inte: np.ndarray,
    cum: np.ndarray,
    pre_i: np.ndarray,
    pre_p: np.ndarray,
    p_lo: int,
    p_hi: int,
    pay_day: np.ndarray,
    pay_amt: np.ndarray,
    num: int,
    den: int,
    grace: int,
    compound: bool,
    as_of: np.ndarray,
    out: np.ndarray,
    row0: int,
) -> None:
    n_asof = as_of.shape[0]
    n = i_hi - i_lo
    prov_p = np.zeros(n if grace > 0 else 0, dtype=np.int64)
    prov_q = np.zeros(n if grace > 0 else 0, dtype=np.int64)
    s = 0  # money that went to installments (cumulative)
    pen = 0  # owed penalty numerator
    cmp_ = 0  # owed compound numerator
    f = i_lo  # first installment with cum > s
    ip = p_lo
    k1 = i_lo  # next installment whose due + 1 is an event
    kg = i_lo  # next installment whose due + grace is an event
    kg1 = i_lo  # next installment whose due + grace + 1 is an event
    ia = 0
    jd = i_lo  # installments lo .. jd-1 have due < day (for the day being accrued)
    jg = i_lo  # installments lo .. jg-1 have due < day - grace
    last = -_BIG
    while ia < n_asof:
        e = as_of[ia]
        if ip < p_hi and pay_day[ip] < e:
            e = pay_day[ip]
        if k1 < i_hi and due[k1] + 1 < e:
            e = due[k1] + 1
        if grace > 0:
            if kg < i_hi and due[kg] + grace < e:
                e = due[kg] + grace
            if kg1 < i_hi and due[kg1] + grace + 1 < e:
                e = due[kg1] + grace + 1
        # Days last+1 .. e-1 are quiet, then day e itself (after its payments).
        for phase in range(2):
            if phase == 0:
                if last == -_BIG or e - 1 <= last:
                    continue
                day = last + 1
                ndays = e - 1 - last
            else:
                while ip < p_hi and pay_day[ip] == e:
                    rest = pay_amt[ip]
                    r = _round2(pen, den)
                    pay = min(rest, r)
                    if pay == r:
                        pen = 0
                    else:
                        pen -= pay * den
                    rest -= pay
                    r = _round2(cmp_, den)
                    pay = min(rest, r)
                    if pay == r:
                        cmp_ = 0
                    else:
                        cmp_ -= pay * den
                    rest -= pay
                    s += rest
                    ip += 1
                f = _first_unpaid(cum, i_lo, i_hi, s, f)
                day = e
                ndays = 1
            while jd < i_hi and due[jd] < day:
                jd += 1
            while jg < i_hi and due[jg] < day - grace:
                jg += 1
            # Past grace: owed accrual.
            ui, up = _unpaid_range(cum, inte, prin, pre_i, pre_p, i_lo, f, jg, s)
            pen += up * num * ndays
            if compound:
                cmp_ += ui * num * ndays
            # In grace: provisional accrual per installment.
            for k in range(max(jg, f), jd):
                ui, up = _one_unpaid(cum, inte, prin, i_lo, k, s)
                prov_p[k - i_lo] += up * num * ndays
                if compound:
                    prov_q[k - i_lo] += ui * num * ndays
        # End of grace of installments due + grace == e.
        if grace > 0:
            while kg < i_hi and due[kg] + grace <= e:
                if due[kg] + grace == e and cum[kg] > s:
                    pen += prov_p[kg - i_lo]
                    cmp_ += prov_q[kg - i_lo]
                prov_p[kg - i_lo] = 0
                prov_q[kg - i_lo] = 0
                kg += 1
            while kg1 < i_hi and due[kg1] + grace + 1 <= e:
                kg1 += 1
        while k1 < i_hi and due[k1] + 1 <= e:
            k1 += 1
        last = e
        if as_of[ia] == e:
            _emit(
                i_lo, i_hi, due, prin, inte, cum, pre_i, pre_p, s, pen, cmp_, den, e, out, row0 + ia
            )
            _emit_state(
                i_lo,
                i_hi,
                due,
                prin,
                inte,
                cum,
                pre_i,
                pre_p,
                s,
                num,
                grace,
                compound,
                e,
                out,
                row0 + ia,
            )
            ia += 1


@njit(cache=True)
def _emit(
    i_lo: int,
    i_hi: int,
    due: np.ndarray,
    prin: np.ndarray,
    inte: np.ndarray,
    cum: np.ndarray,
    pre_i: np.ndarray,
    pre_p: np.ndarray,
    s: int,
    pen: int,
    cmp_: int,
    den: int,
    d: int,
    out: np.ndarray,
    row: int,
) -> None:
    kd = i_lo  # installments due on or before d
    while kd < i_hi and due[kd] <= d:
        kd += 1
    jd = i_lo  # installments due before d
    while jd < i_hi and due[jd] < d:
        jd += 1
    top = cum[kd - 1] if kd > i_lo else 0
    c = min(s, top)
    f = _first_unpaid(cum, i_lo, i_hi, c, i_lo)
    dpd = d - due[f] if (f < i_hi and due[f] < d) else 0
    oi, op = _unpaid_range(cum, inte, prin, pre_i, pre_p, i_lo, f, jd, c)
    _ti, tp = _unpaid_range(cum, inte, prin, pre_i, pre_p, i_lo, f, i_hi, c)
    pr = _round2(pen, den)
    cr = _round2(cmp_, den)
    nk = max(f, jd)
    if nk < i_hi:
        nd = due[nk]
        ni, np_ = _one_unpaid(cum, inte, prin, i_lo, nk, c)
        namt = ni + np_
    else:
        nd = NO_DATE
        namt = 0
    out[row, 0] = dpd
    out[row, 1] = op
    out[row, 2] = oi
    out[row, 3] = pr
    out[row, 4] = cr
    out[row, 5] = tp
    out[row, 6] = nd
    out[row, 7] = namt
    out[row, 8] = max(0, s - top)
    out[row, 9] = op + oi + pr + cr
    out[row, 10] = 1 if (f == i_hi and pr == 0 and cr == 0) else 0
    out[row, 11] = pen
    out[row, 12] = cmp_


@njit(cache=True)
def _emit_state(
    i_lo: int,
    i_hi: int,
    due: np.ndarray,
    prin: np.ndarray,
    inte: np.ndarray,
    cum: np.ndarray,
    pre_i: np.ndarray,
    pre_p: np.ndarray,
    s: int,
    num: int,
    grace: int,
    compound: bool,
    d: int,
    out: np.ndarray,
    row: int,
) -> None:
    """Accrual per day after ``d`` and the last day before the next event of the loan."""
    f = _first_unpaid(cum, i_lo, i_hi, s, i_lo)
    jg = i_lo  # installments past grace on day d + 1: due < d + 1 - grace
    while jg < i_hi and due[jg] < d + 1 - grace:
        jg += 1
    ui, up = _unpaid_range(cum, inte, prin, pre_i, pre_p, i_lo, f, jg, s)
    nxt = _BIG
    for k in range(i_lo, i_hi):
        for c in (due[k], due[k] + 1, due[k] + grace, due[k] + grace + 1):
            if d < c < nxt:
                nxt = c
    out[row, 13] = up * num
    out[row, 14] = ui * num if compound else 0
    out[row, 15] = nxt - 1 if nxt < _BIG else _BIG


@njit(cache=True, parallel=True)
def _run(
    inst_off: np.ndarray,
    due: np.ndarray,
    prin: np.ndarray,
    inte: np.ndarray,
    pay_off: np.ndarray,
    pay_day: np.ndarray,
    pay_amt: np.ndarray,
    rate_num: np.ndarray,
    den: np.ndarray,
    grace: np.ndarray,
    compound: np.ndarray,
    as_of: np.ndarray,
) -> np.ndarray:
    n_loans = inst_off.shape[0] - 1
    n_asof = as_of.shape[0]
    out = np.zeros((n_loans * n_asof, _NCOL), dtype=np.int64)
    m = due.shape[0]
    cum = np.empty(m, dtype=np.int64)
    pre_i = np.empty(m, dtype=np.int64)
    pre_p = np.empty(m, dtype=np.int64)
    for li in prange(n_loans):
        lo = inst_off[li]
        hi = inst_off[li + 1]
        acc = 0
        ai = 0
        ap = 0
        for k in range(lo, hi):
            acc += inte[k] + prin[k]
            ai += inte[k]
            ap += prin[k]
            cum[k] = acc
            pre_i[k] = ai
            pre_p[k] = ap
        _loan(
            lo,
            hi,
            due,
            prin,
            inte,
            cum,
            pre_i,
            pre_p,
            pay_off[li],
            pay_off[li + 1],
            pay_day,
            pay_amt,
            rate_num[li],
            den[li],
            grace[li],
            compound[li] != 0,
            as_of,
            out,
            li * n_asof,
        )
    return out


_run_serial = njit(cache=True)(_run.py_func)  # prange runs as range
_PARALLEL_FROM = 256  # (loans x as-of dates) from which the parallel build is used


def run_kernel(
    inst_off: np.ndarray,
    due: np.ndarray,
    prin: np.ndarray,
    inte: np.ndarray,
    pay_off: np.ndarray,
    pay_day: np.ndarray,
    pay_amt: np.ndarray,
    rate_num: np.ndarray,
    den: np.ndarray,
    grace: np.ndarray,
    compound: np.ndarray,
    as_of: np.ndarray,
) -> np.ndarray:
    """Status of every loan at every as-of day: an int64 matrix, one row per (loan, as-of).

    Row ``loan * len(as_of) + a`` holds loan ``loan`` at ``as_of[a]`` (columns OUT_COLUMNS).
    Days are int64 days since 1970-01-01. Installments of loan ``l`` are rows
    ``inst_off[l] .. inst_off[l+1]-1`` sorted by due day; payments likewise with ``pay_off``,
    sorted by day. ``den`` is the full denominator ``basis * rate_den``; ``as_of`` ascending
    and unique.
    """
    i64 = np.int64
    # A few loans (an account view): the serial build; waking the parallel pool costs more.
    run = _run_serial if (len(inst_off) - 1) * len(as_of) < _PARALLEL_FROM else _run
    result: np.ndarray = run(
        np.ascontiguousarray(inst_off, dtype=i64),
        np.ascontiguousarray(due, dtype=i64),
        np.ascontiguousarray(prin, dtype=i64),
        np.ascontiguousarray(inte, dtype=i64),
        np.ascontiguousarray(pay_off, dtype=i64),
        np.ascontiguousarray(pay_day, dtype=i64),
        np.ascontiguousarray(pay_amt, dtype=i64),
        np.ascontiguousarray(rate_num, dtype=i64),
        np.ascontiguousarray(den, dtype=i64),
        np.ascontiguousarray(grace, dtype=i64),
        np.ascontiguousarray(compound, dtype=np.int8),
        np.ascontiguousarray(as_of, dtype=i64),
    )
    return result


@njit(cache=True)
def _segment_order(off: np.ndarray, key: np.ndarray) -> np.ndarray:
    perm = np.arange(key.shape[0])
    for li in range(off.shape[0] - 1):
        lo = off[li]
        hi = off[li + 1]
        # Insertion sort: segments are short (a loan's payments) and usually sorted.
        for a in range(lo + 1, hi):
            cur = perm[a]
            b = a - 1
            while b >= lo and key[perm[b]] > key[cur]:
                perm[b + 1] = perm[b]
                b -= 1
            perm[b + 1] = cur
    return perm


def segment_order(off: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Stable permutation sorting ``key`` inside each CSR segment ``off[l] .. off[l+1]-1``."""
    out: np.ndarray = _segment_order(
        np.ascontiguousarray(off, dtype=np.int64), np.ascontiguousarray(key, dtype=np.int64)
    )
    return out
