"""Schedules: loan-math.md "Dates" and "Schedules", worked example 1."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from arrears.domain.errors import LedgerError
from arrears.domain.loans import Installment, LoanTerms
from arrears.domain.products import RepaymentMethod
from arrears.domain.schedules import add_months, check_schedule, generate_schedule, schedule_for

D = Decimal
START = date(2026, 1, 31)
EXAMPLE = LoanTerms("L1", D("100000.00"), D("0.0435"), 12, START, RepaymentMethod.ANNUITY)


@pytest.mark.parametrize(
    ("start", "k", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 1, 30), 1, date(2026, 2, 28)),
        (date(2026, 1, 28), 1, date(2026, 2, 28)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 1, 31), 13, date(2027, 2, 28)),
        (date(2026, 1, 31), 0, date(2026, 1, 31)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, k: int, expected: date) -> None:
    assert add_months(start, k) == expected


def test_worked_example_1_annuity_schedule() -> None:
    sched = schedule_for(EXAMPLE)
    assert len(sched) == 12
    first, second, third, last = sched[0], sched[1], sched[2], sched[-1]
    assert first == Installment(1, date(2026, 2, 28), D("8168.49"), D("362.50"))
    assert first.amount == D("8530.99")
    assert second == Installment(2, date(2026, 3, 31), D("8198.10"), D("332.89"))
    assert third.due_date == date(2026, 4, 30)
    assert (last.principal, last.interest) == (D("8500.20"), D("30.81"))
    assert last.due_date == date(2027, 1, 31)
    assert all(inst.amount == D("8530.99") for inst in sched[:-1])
    assert sum(inst.principal for inst in sched) == D("100000.00")
    check_schedule(EXAMPLE, sched)


def test_annuity_zero_rate_and_single_month() -> None:
    zero = generate_schedule(D("100.00"), D("0"), 3, START, RepaymentMethod.ANNUITY)
    assert [(i.principal, i.interest) for i in zero] == [
        (D("33.33"), D("0.00")),
        (D("33.33"), D("0.00")),
        (D("33.34"), D("0.00")),
    ]
    one = generate_schedule(D("1000.00"), D("0.12"), 1, START, RepaymentMethod.ANNUITY)
    assert one == (Installment(1, date(2026, 2, 28), D("1000.00"), D("10.00")),)


def test_equal_principal() -> None:
    sched = generate_schedule(D("1000.00"), D("0.12"), 3, START, RepaymentMethod.EQUAL_PRINCIPAL)
    assert sched == (
        Installment(1, date(2026, 2, 28), D("333.33"), D("10.00")),
        Installment(2, date(2026, 3, 31), D("333.33"), D("6.67")),
        Installment(3, date(2026, 4, 30), D("333.34"), D("3.33")),
    )


def test_interest_rounds_half_up() -> None:
    # 1000 × 0.0105 / 12 = 0.875 exactly -> 0.88
    sched = generate_schedule(D("1000.00"), D("0.0105"), 2, START, RepaymentMethod.EQUAL_PRINCIPAL)
    assert sched[0].interest == D("0.88")
    # 500 × 0.0105 / 12 = 0.4375 -> 0.44
    assert sched[1].interest == D("0.44")


def test_interest_only() -> None:
    sched = generate_schedule(D("1000.00"), D("0.12"), 3, START, RepaymentMethod.INTEREST_ONLY)
    assert [(i.seq, i.due_date, i.principal, i.interest) for i in sched] == [
        (1, date(2026, 2, 28), D("0.00"), D("10.00")),
        (2, date(2026, 3, 31), D("0.00"), D("10.00")),
        (3, date(2026, 4, 30), D("1000.00"), D("10.00")),
    ]


def test_bullet_uses_actual_days_over_360() -> None:
    sched = generate_schedule(D("1000.00"), D("0.0365"), 3, START, RepaymentMethod.BULLET)
    # 2026-01-31 -> 2026-04-30 is 89 days: 1000 × 0.0365 × 89 / 360 = 9.0236…
    assert sched == (Installment(1, date(2026, 4, 30), D("1000.00"), D("9.02")),)


@pytest.mark.parametrize("method", list(RepaymentMethod))
def test_every_method_sums_to_principal(method: RepaymentMethod) -> None:
    sched = generate_schedule(D("12345.67"), D("0.0799"), 7, START, method)
    assert sum(i.principal for i in sched) == D("12345.67")
    loan = LoanTerms("L", D("12345.67"), D("0.0799"), 7, START, method)
    check_schedule(loan, sched)


@pytest.mark.parametrize(
    ("principal", "rate", "term"),
    [(D("0"), D("0.1"), 3), (D("100"), D("-0.1"), 3), (D("100"), D("0.1"), 0)],
)
def test_generate_rejects_bad_terms(principal: Decimal, rate: Decimal, term: int) -> None:
    with pytest.raises(LedgerError):
        generate_schedule(principal, rate, term, START, RepaymentMethod.ANNUITY)


def test_check_schedule_rejects_seq_gap() -> None:
    sched = list(schedule_for(EXAMPLE))
    del sched[4]
    with pytest.raises(LedgerError, match="seq"):
        check_schedule(EXAMPLE, sched)


def test_check_schedule_rejects_non_increasing_due_dates() -> None:
    sched = list(schedule_for(EXAMPLE))
    sched[2] = Installment(3, sched[1].due_date, sched[2].principal, sched[2].interest)
    with pytest.raises(LedgerError, match="strictly increasing"):
        check_schedule(EXAMPLE, sched)


def test_check_schedule_rejects_wrong_principal_sum() -> None:
    sched = list(schedule_for(EXAMPLE))
    sched[0] = Installment(1, sched[0].due_date, D("8168.48"), sched[0].interest)
    with pytest.raises(LedgerError, match=r"sum to 99999\.99"):
        check_schedule(EXAMPLE, sched)


def test_check_schedule_rejects_empty() -> None:
    with pytest.raises(LedgerError):
        check_schedule(EXAMPLE, [])
