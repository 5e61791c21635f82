"""Vectorised schedule generation (loan-math.md "Schedules"), exact in integers.

Money is in cents, rates are exact fractions ``rate_num / rate_den`` of the decimal strings.
``round2`` of a non-negative fraction ``a / b`` of cents is ``(2a + b) // (2b)``.

The annuity payment ``A = round2(P i (1+i)^n / ((1+i)^n - 1))`` is the only non-rational
step: it is computed in float64 and, only when the float lands within a small tolerance of a
``.5`` cent boundary, recomputed exactly with ``Fraction`` (then it is exact; elsewhere the float
error is far below the distance to the boundary, so the rounding is the same).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit

__all__ = ["METHOD_CODES", "Schedule", "add_months_days", "annuity_payment", "generate_schedules"]

METHOD_CODES: dict[str, int] = {"annuity": 0, "equal_principal": 1, "interest_only": 2, "bullet": 3}
_EPOCH = np.datetime64("1970-01-01", "D")


def add_months_days(start_days: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``add_months(start, k)`` (clamped to the month's last day) on int64 days since 1970-01-01."""
    start = _EPOCH + start_days.astype("timedelta64[D]")
    month0 = start.astype("datetime64[M]")
    dom = (start - month0.astype("datetime64[D]")).astype(np.int64)  # 0-based day of month
    target = month0 + k.astype("timedelta64[M]")
    first = target.astype("datetime64[D]")
    dim = ((target + np.timedelta64(1, "M")).astype("datetime64[D]") - first).astype(np.int64)
    day = np.minimum(dom, dim - 1)
    out: np.ndarray = (first - _EPOCH).astype(np.int64) + day
    return out


def annuity_payment(
    p_cents: np.ndarray, rate_num: np.ndarray, rate_den: np.ndarray, n: np.ndarray
) -> np.ndarray:
    """``A`` in cents for annuity loans (``round2(P/n)`` when the rate is 0)."""
    p = p_cents.astype(np.float64)
    i = rate_num.astype(np.float64) / (12.0 * rate_den.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = np.power(1.0 + i, n.astype(np.float64))
        x = np.where(i > 0, p * i * q / (q - 1.0), p / n)
    a = np.floor(x + 0.5).astype(np.int64)
    frac = x - np.floor(x)
    tol = np.maximum(1e-6, np.abs(x) * 1e-12)
    near = np.abs(frac - 0.5) < tol
    for j in np.nonzero(near | ~np.isfinite(x))[0]:
        a[j] = _exact_annuity(int(p_cents[j]), int(rate_num[j]), int(rate_den[j]), int(n[j]))
    return a


def _exact_annuity(p: int, rn: int, rd: int, n: int) -> int:
    i = Fraction(rn, 12 * rd)
    x = Fraction(p, n) if i == 0 else p * i * (1 + i) ** n / ((1 + i) ** n - 1)
    return (2 * x.numerator + x.denominator) // (2 * x.denominator)


@njit(cache=True)
def _fill(
    off: np.ndarray,
    p: np.ndarray,
    rn: np.ndarray,
    rd: np.ndarray,
    n: np.ndarray,
    method: np.ndarray,
    annuity: np.ndarray,
    bullet_int: np.ndarray,
    prin: np.ndarray,
    inte: np.ndarray,
) -> None:
    for li in range(off.shape[0] - 1):
        lo = off[li]
        m = method[li]
        if m == 3:
            prin[lo] = p[li]
            inte[lo] = bullet_int[li]
            continue
        nn = n[li]
        d12 = 12 * rd[li]
        b = p[li]
        step = (2 * p[li] + nn) // (2 * nn)
        for k in range(nn):
            base = p[li] if m == 2 else b
            it = (2 * base * rn[li] + d12) // (2 * d12)
            if k == nn - 1:
                pr = b
            elif m == 0:
                pr = annuity[li] - it
            elif m == 1:
                pr = step
            else:
                pr = 0
            prin[lo + k] = pr
            inte[lo + k] = it
            b -= pr


class Schedule:
    """Generated installments as CSR arrays (``off`` of length loans + 1)."""

    __slots__ = ("due", "interest", "off", "principal", "seq")

    def __init__(
        self,
        off: np.ndarray,
        seq: np.ndarray,
        due: np.ndarray,
        principal: np.ndarray,
        interest: np.ndarray,
    ) -> None:
        self.off = off
        self.seq = seq
        self.due = due
        self.principal = principal
        self.interest = interest


def generate_schedules(
    p_cents: np.ndarray,
    rate_num: np.ndarray,
    rate_den: np.ndarray,
    term: np.ndarray,
    start_days: np.ndarray,
    method: np.ndarray,
) -> Schedule:
    """Schedules of many loans at once; ``method`` holds METHOD_CODES values."""
    p_cents = p_cents.astype(np.int64)
    rate_num = rate_num.astype(np.int64)
    rate_den = rate_den.astype(np.int64)
    term = term.astype(np.int64)
    start_days = start_days.astype(np.int64)
    method = method.astype(np.int8)
    is_bullet = method == 3
    counts = np.where(is_bullet, 1, term)
    off = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=off[1:])
    total = int(off[-1])
    owner = np.repeat(np.arange(len(counts)), counts)
    seq = np.arange(total, dtype=np.int64) - off[owner] + 1
    k = np.where(is_bullet[owner], term[owner], seq)
    due = add_months_days(start_days[owner], k)
    annuity = np.zeros(len(counts), dtype=np.int64)
    sel = method == 0
    if sel.any():
        annuity[sel] = annuity_payment(p_cents[sel], rate_num[sel], rate_den[sel], term[sel])
    bullet_int = np.zeros(len(counts), dtype=np.int64)
    if is_bullet.any():
        days = add_months_days(start_days, term) - start_days
        for j in np.nonzero(is_bullet)[0]:
            # round2(P * annual_rate * days / 360), in Python ints (no overflow).
            a = int(p_cents[j]) * int(rate_num[j]) * int(days[j])
            b = 360 * int(rate_den[j])
            bullet_int[j] = (2 * a + b) // (2 * b)
    prin = np.empty(total, dtype=np.int64)
    inte = np.empty(total, dtype=np.int64)
    _fill(off, p_cents, rate_num, rate_den, term, method, annuity, bullet_int, prin, inte)
    return Schedule(off, seq.astype(np.int32), due, prin, inte)
