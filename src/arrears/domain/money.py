"""Money: exact decimals, one rounding function (loan-math.md "Numbers")."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

__all__ = ["CENT", "ZERO", "from_minor", "round2", "round2_fraction", "to_minor"]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def round2(x: Decimal) -> Decimal:
    """Round half up (away from zero on .5) to 2 places."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def round2_fraction(x: Fraction) -> Decimal:
    """``round2`` of an exact rational amount in major units."""
    cents = x * 100
    sign = -1 if cents < 0 else 1
    mag = abs(cents)
    whole = (mag.numerator * 2 + mag.denominator) // (2 * mag.denominator)
    return Decimal(sign * whole).scaleb(-2)


def to_minor(x: Decimal) -> int:
    """Whole minor units (cents) of an amount that has at most 2 decimals."""
    q = x.scaleb(2)
    if q != q.to_integral_value():
        raise ValueError(f"amount {x} has more than 2 decimal places")
    return int(q)


def from_minor(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)
