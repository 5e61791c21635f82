"""Vectorised schedule generation equals the domain's generate_schedule, for every method."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np

from arrears.domain.money import to_minor
from arrears.domain.products import RepaymentMethod
from arrears.domain.schedules import generate_schedule
from arrears.engine.schedule import METHOD_CODES, annuity_payment, generate_schedules


def test_worked_example_schedule() -> None:
    s = generate_schedules(
        np.array([10_000_000]),
        np.array([435]),
        np.array([10_000]),
        np.array([12]),
        np.array([(date(2026, 1, 31) - date(1970, 1, 1)).days]),
        np.array([0]),
    )
    assert s.interest[:2].tolist() == [36250, 33289]
    assert s.principal[:2].tolist() == [816849, 819810]
    assert (s.principal[-1], s.interest[-1]) == (850020, 3081)


def test_equals_domain_for_all_methods() -> None:
    rng = random.Random(7)
    loans = []
    for _ in range(400):
        p = Decimal(rng.randint(10_000, 500_000_000)) / 100
        rate = Decimal(rng.choice(["0", "0.0435", "0.12", "0.2399", "0.036", "0.365"]))
        n = rng.randint(1, 60)
        start = date(2024, 1, 1) + timedelta(days=rng.randint(0, 900))
        method = rng.choice(list(RepaymentMethod))
        loans.append((p, rate, n, start, method))
    rf = [Fraction(r) for _, r, _, _, _ in loans]
    s = generate_schedules(
        np.array([to_minor(p) for p, *_ in loans]),
        np.array([f.numerator for f in rf]),
        np.array([f.denominator for f in rf]),
        np.array([x[2] for x in loans]),
        np.array([(x[3] - date(1970, 1, 1)).days for x in loans]),
        np.array([METHOD_CODES[str(x[4])] for x in loans]),
    )
    for j, (p, rate, n, start, method) in enumerate(loans):
        want = generate_schedule(p, rate, n, start, method)
        lo, hi = s.off[j], s.off[j + 1]
        got = [
            (
                int(s.seq[k]),
                date(1970, 1, 1) + timedelta(days=int(s.due[k])),
                int(s.principal[k]),
                int(s.interest[k]),
            )
            for k in range(lo, hi)
        ]
        assert got == [
            (i.seq, i.due_date, to_minor(i.principal), to_minor(i.interest)) for i in want
        ], (p, rate, n, start, method)


def test_annuity_near_half_cent_uses_exact_fraction() -> None:
    # P * i exactly x.5 cents when the term is long: compare with the exact value.
    p = np.array([1_000_001, 123_457, 99_999_999])
    rn, rd, n = np.array([1, 3, 7]), np.array([10, 100, 1000]), np.array([360, 240, 12])
    got = annuity_payment(p, rn, rd, n)
    for j in range(3):
        i = Fraction(int(rn[j]), 12 * int(rd[j]))
        x = int(p[j]) * i * (1 + i) ** int(n[j]) / ((1 + i) ** int(n[j]) - 1)
        assert got[j] == (2 * x.numerator + x.denominator) // (2 * x.denominator)
