"""Promises to pay: kept, partly kept, broken, open (docs/negotiation.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from arrears.domain.errors import ValidationError
from arrears.domain.negotiation import PromiseTolerance, evaluate_promise
from arrears.domain.strategy import PromiseStatus

D = Decimal
MADE = date(2026, 4, 1)
ONE = [(date(2026, 4, 10), D("1000.00"))]
TWO = [(date(2026, 4, 10), D("500.00")), (date(2026, 5, 10), D("500.00"))]


def test_open_until_the_date() -> None:
    ev = evaluate_promise(ONE, [(date(2026, 4, 5), D("300"))], date(2026, 4, 9), made_on=MADE)
    assert ev.status is PromiseStatus.OPEN
    assert ev.paid == D("300")
    assert ev.due_so_far == 0
    assert ev.shortfall == 0
    assert ev.next_date == date(2026, 4, 10)


def test_kept_on_the_date() -> None:
    ev = evaluate_promise(ONE, [(date(2026, 4, 10), D("1000.00"))], date(2026, 4, 10), made_on=MADE)
    assert ev.status is PromiseStatus.KEPT
    assert ev.decided_on == date(2026, 4, 10)
    assert ev.shortfall == 0


def test_kept_early_by_several_payments() -> None:
    pays = [(date(2026, 4, 2), D("400")), (date(2026, 4, 3), D("600"))]
    ev = evaluate_promise(ONE, pays, date(2026, 4, 5), made_on=MADE)
    assert ev.status is PromiseStatus.KEPT
    assert ev.decided_on == date(2026, 4, 3)


def test_payments_before_the_promise_do_not_count() -> None:
    ev = evaluate_promise(ONE, [(date(2026, 3, 31), D("1000"))], date(2026, 4, 10), made_on=MADE)
    assert ev.status is PromiseStatus.BROKEN
    assert ev.paid == 0


def test_partly_kept_and_broken() -> None:
    ev = evaluate_promise(ONE, [(date(2026, 4, 8), D("999.00"))], date(2026, 4, 11), made_on=MADE)
    assert ev.status is PromiseStatus.PARTLY_KEPT
    assert ev.shortfall == D("1.00")
    assert ev.decided_on == date(2026, 4, 10)
    ev = evaluate_promise(ONE, [(date(2026, 4, 11), D("1000"))], date(2026, 4, 11), made_on=MADE)
    assert ev.status is PromiseStatus.BROKEN  # paid a day late: nothing by the date
    assert ev.shortfall == D("1000.00")


@pytest.mark.parametrize(
    ("tolerance", "paid", "status"),
    [
        (PromiseTolerance(absolute=D("5.00")), D("995.00"), PromiseStatus.KEPT),
        (PromiseTolerance(absolute=D("5.00")), D("994.99"), PromiseStatus.PARTLY_KEPT),
        # 2 % of 1000.00 = 20.00
        (PromiseTolerance(percent=D("0.02")), D("980.00"), PromiseStatus.KEPT),
        (PromiseTolerance(percent=D("0.02")), D("979.99"), PromiseStatus.PARTLY_KEPT),
        # the larger of the two
        (PromiseTolerance(D("30.00"), D("0.02")), D("970.00"), PromiseStatus.KEPT),
    ],
)
def test_tolerance(tolerance: PromiseTolerance, paid: Decimal, status: PromiseStatus) -> None:
    ev = evaluate_promise(
        ONE, [(date(2026, 4, 10), paid)], date(2026, 4, 30), made_on=MADE, tolerance=tolerance
    )
    assert ev.status is status


def test_two_part_promise() -> None:
    first = [(date(2026, 4, 10), D("500"))]
    ev = evaluate_promise(TWO, first, date(2026, 5, 1), made_on=MADE)
    assert ev.status is PromiseStatus.OPEN
    assert ev.parts_covered == 1
    assert ev.next_date == date(2026, 5, 10)
    assert ev.due_so_far == D("500.00")
    ev = evaluate_promise(
        TWO, [*first, (date(2026, 5, 10), D("500"))], date(2026, 5, 10), made_on=MADE
    )
    assert ev.status is PromiseStatus.KEPT
    ev = evaluate_promise(TWO, first, date(2026, 5, 11), made_on=MADE)
    assert ev.status is PromiseStatus.PARTLY_KEPT
    assert ev.decided_on == date(2026, 5, 10)
    assert ev.parts_covered == 1
    assert ev.shortfall == D("500.00")
    # the first part short: decided on its date even if the second would be paid later
    ev = evaluate_promise(
        TWO,
        [(date(2026, 4, 10), D("100")), (date(2026, 5, 9), D("900"))],
        date(2026, 5, 31),
        made_on=MADE,
    )
    assert ev.status is PromiseStatus.PARTLY_KEPT
    assert ev.decided_on == date(2026, 4, 10)


@pytest.mark.parametrize(
    "promised",
    [
        [],
        [(date(2026, 4, 10), D("0"))],
        [(date(2026, 3, 10), D("10"))],
        [(date(2026, 4, 10), D("10")), (date(2026, 4, 10), D("20"))],
    ],
)
def test_bad_promises(promised: list[tuple[date, Decimal]]) -> None:
    with pytest.raises(ValidationError):
        evaluate_promise(promised, [], date(2026, 4, 30), made_on=MADE)
