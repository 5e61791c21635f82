"""Loan status: loan-math.md worked examples 2-4 and docs/ledger.md."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from arrears.domain.errors import LedgerError
from arrears.domain.ledger import LedgerState, compute_status, compute_statuses
from arrears.domain.loans import Installment, LoanTerms, Payment
from arrears.domain.money import round2_fraction
from arrears.domain.products import (
    CREDIT_CARD_2011_CLASSIFICATION,
    AllocationStep,
    ProductSettings,
    RepaymentMethod,
)
from arrears.domain.schedules import schedule_for
from arrears.domain.status import LoanStatus

D = Decimal
LOAN = LoanTerms(
    "L1", D("100000.00"), D("0.0435"), 12, date(2026, 1, 31), RepaymentMethod.ANNUITY, "B1"
)
SCHED = schedule_for(LOAN)
DEFAULT = ProductSettings()
GRACE3 = ProductSettings(grace_days=3)
DAILY = Fraction(D("0.06525")) / 360  # 4.35 % × 1.5 / 360


def pay(on: date, amount: str, pid: str = "p") -> Payment:
    return Payment(pid, on, D(amount))


def status(
    as_of: date, payments: list[Payment] | None = None, product: ProductSettings = DEFAULT
) -> LoanStatus:
    return compute_status(LOAN, SCHED, payments or [], as_of, product)


# -- worked examples -------------------------------------------------------------------------


def test_example_2_nothing_paid() -> None:
    st = status(date(2026, 3, 30))
    assert st.loan_id == "L1"
    assert st.borrower_id == "B1"
    assert st.dpd == 30
    assert st.overdue_principal == D("8168.49")
    assert st.overdue_interest == D("362.50")
    assert st.accrued_penalty == D("44.42")
    assert st.accrued_compound == D("1.97")
    assert st.total_due_now == D("8577.38")
    assert st.bucket == "M1"
    assert st.classification == "special_mention"
    assert st.next_due_date == date(2026, 3, 31)
    assert st.next_due_amount == D("8530.99")
    assert st.principal_outstanding == D("100000.00")
    assert st.credit_balance == D("0.00")
    assert not st.paid_off


def test_example_3_late_payment_leaves_credit() -> None:
    payments = [pay(date(2026, 3, 4), "8600.00")]
    state = LedgerState(LOAN, SCHED, payments, DEFAULT)
    st = state.status(date(2026, 3, 4))
    assert state.penalty_paid == D("4.44")
    assert state.compound_paid == D("0.20")
    assert st.credit_balance == D("64.37")
    assert st.dpd == 0
    assert st.total_due_now == D("0.00")
    assert st.accrued_penalty == D("0.00")
    assert st.principal_outstanding == D("91831.51")


def test_example_3_grace_paid_on_last_grace_day() -> None:
    payments = [pay(date(2026, 3, 3), "8600.00")]
    state = LedgerState(LOAN, SCHED, payments, GRACE3)
    st = state.status(date(2026, 3, 3))
    assert state.penalty_paid == D("0")
    assert state.compound_paid == D("0")
    assert st.credit_balance == D("69.01")
    assert st.dpd == 0
    # and the dropped provisional accrual never comes back
    later = state.status(date(2026, 3, 20))
    assert (later.accrued_penalty, later.accrued_compound) == (D("0.00"), D("0.00"))


def test_example_3_grace_paid_one_day_after_grace() -> None:
    payments = [pay(date(2026, 3, 4), "8600.00")]
    state = LedgerState(LOAN, SCHED, payments, GRACE3)
    st = state.status(date(2026, 3, 4))
    assert state.penalty_paid == D("4.44")
    assert state.compound_paid == D("0.20")
    assert st.credit_balance == D("64.37")


def test_example_4_partial_payment() -> None:
    payments = [pay(date(2026, 3, 20), "5000.00")]
    state = LedgerState(LOAN, SCHED, payments, DEFAULT)
    st20 = state.status(date(2026, 3, 20))
    assert state.penalty_paid == D("28.13")
    assert state.compound_paid == D("1.25")
    assert st20.overdue_principal == D("3560.37")
    assert st20.overdue_interest == D("0.00")
    assert st20.dpd == 20
    st30 = state.status(date(2026, 3, 30))
    assert st30.accrued_penalty == D("7.10")
    assert st30.accrued_compound == D("0.00")
    assert st30.total_due_now == D("3567.47")
    assert st30.dpd == 30
    assert st30 == status(date(2026, 3, 30), payments)


# -- DPD, overdue and next due ------------------------------------------------------------------


def test_due_date_itself_is_not_overdue() -> None:
    st = status(date(2026, 2, 28))
    assert st.dpd == 0
    assert st.overdue_principal == D("0.00")
    assert st.next_due_date == date(2026, 2, 28)
    assert st.next_due_amount == D("8530.99")
    st = status(date(2026, 3, 1))
    assert st.dpd == 1
    assert st.accrued_penalty == round2_fraction(Fraction(D("8168.49")) * DAILY)
    assert st.next_due_date == date(2026, 3, 31)


def test_before_and_at_disbursement() -> None:
    for as_of in (date(2026, 1, 1), date(2026, 1, 31)):
        st = status(as_of)
        assert st.dpd == 0
        assert st.principal_outstanding == D("100000.00")
        assert st.next_due_date == date(2026, 2, 28)
        assert st.total_due_now == D("0.00")


def test_payment_on_due_date_is_on_time() -> None:
    st = status(date(2026, 3, 10), [pay(date(2026, 2, 28), "8530.99")])
    assert st.dpd == 0
    assert st.total_due_now == D("0.00")
    assert st.principal_outstanding == D("91831.51")


def test_later_payments_are_ignored() -> None:
    later = [pay(date(2026, 3, 31), "9000.00")]
    assert status(date(2026, 3, 30), later) == status(date(2026, 3, 30))


def test_credit_balance_applied_on_due_date() -> None:
    payments = [pay(date(2026, 3, 4), "8600.00")]
    before = status(date(2026, 3, 30), payments)
    assert before.credit_balance == D("64.37")
    assert before.next_due_amount == D("8530.99")  # before any credit balance
    on_due = status(date(2026, 3, 31), payments)
    assert on_due.credit_balance == D("0.00")
    assert on_due.next_due_date == date(2026, 3, 31)
    assert on_due.next_due_amount == D("8466.62")
    assert on_due.dpd == 0
    after = status(date(2026, 4, 1), payments)
    assert after.dpd == 1
    assert after.overdue_interest == D("268.52")
    assert after.overdue_principal == D("8198.10")
    assert after.accrued_penalty == round2_fraction(Fraction(D("8198.10")) * DAILY)
    assert after.accrued_compound == round2_fraction(Fraction(D("268.52")) * DAILY)
    assert after.next_due_date == date(2026, 4, 30)


def test_partial_penalty_payment_keeps_the_exact_rest() -> None:
    st = status(date(2026, 3, 20), [pay(date(2026, 3, 20), "10.00")])
    penalty_19 = Fraction(D("8168.49")) * DAILY * 19
    compound_20 = Fraction(D("362.50")) * DAILY * 20
    assert st.accrued_penalty == round2_fraction(penalty_19 - 10 + Fraction(D("8168.49")) * DAILY)
    assert st.accrued_compound == round2_fraction(compound_20)
    assert st.overdue_principal == D("8168.49")


def test_split_payments_on_one_day_give_same_status() -> None:
    whole = [pay(date(2026, 3, 20), "5000.00")]
    parts = [
        pay(date(2026, 3, 20), "10.00", "a"),
        pay(date(2026, 3, 20), "4000.00", "b"),
        pay(date(2026, 3, 20), "990.00", "c"),
    ]
    for as_of in (date(2026, 3, 20), date(2026, 3, 30), date(2026, 5, 1)):
        assert status(as_of, parts) == status(as_of, whole)


# -- grace ----------------------------------------------------------------------------------


def test_grace_accrual_is_provisional_until_grace_ends() -> None:
    st = status(date(2026, 3, 2), product=GRACE3)
    assert st.dpd == 2  # DPD counts from the due date regardless of grace
    assert (st.accrued_penalty, st.accrued_compound) == (D("0.00"), D("0.00"))
    st = status(date(2026, 3, 3), product=GRACE3)
    assert st.accrued_penalty == D("4.44")
    assert st.accrued_compound == D("0.20")
    assert st.total_due_now == D("8535.63")
    # from then on, the same as without grace
    assert status(date(2026, 3, 30), product=GRACE3) == status(date(2026, 3, 30))


def test_grace_partial_payment_still_charges_the_days() -> None:
    payments = [pay(date(2026, 3, 2), "1000.00")]
    st = status(date(2026, 3, 3), payments, GRACE3)
    unpaid = D("8530.99") - D("1000.00")
    expected = Fraction(D("8168.49")) * DAILY + Fraction(unpaid) * DAILY * 2
    assert st.accrued_penalty == round2_fraction(expected)
    assert st.accrued_compound == round2_fraction(Fraction(D("362.50")) * DAILY)


def test_loan_overrides_product() -> None:
    graced = replace(LOAN, grace_days=3)
    st = compute_status(
        graced, SCHED, [pay(date(2026, 3, 3), "8600.00")], date(2026, 3, 3), DEFAULT
    )
    assert st.credit_balance == D("69.01")
    flat = replace(LOAN, penalty_markup=D("0"))
    st = compute_status(flat, SCHED, [], date(2026, 3, 30), GRACE3)
    assert st.accrued_penalty == D("29.61")  # 8168.49 × 0.0435 / 360 × 30 = 29.610…


# -- product settings -------------------------------------------------------------------------


def test_day_count_basis_365() -> None:
    st = status(date(2026, 3, 30), product=ProductSettings(day_count_basis=365))
    assert st.accrued_penalty == D("43.81")  # 8168.49 × 0.06525 / 365 × 30 = 43.808…


def test_no_compound_interest() -> None:
    st = status(date(2026, 3, 30), product=ProductSettings(compound_on_overdue_interest=False))
    assert st.accrued_compound == D("0.00")
    assert st.total_due_now == D("8575.41")


def test_credit_card_table_in_status() -> None:
    card = ProductSettings(classification=CREDIT_CARD_2011_CLASSIFICATION)
    assert status(date(2026, 2, 28) + timedelta(days=121), product=card).classification == (
        "doubtful"
    )
    assert status(date(2026, 2, 28) + timedelta(days=121)).classification == "substandard"
    assert status(date(2026, 2, 28) + timedelta(days=121)).bucket == "M5"


def test_compound_before_penalty_order() -> None:
    order = (
        AllocationStep.FEES,
        AllocationStep.COMPOUND,
        AllocationStep.PENALTY,
        AllocationStep.INSTALLMENTS,
    )
    product = ProductSettings(allocation_order=order)
    state = LedgerState(LOAN, SCHED, [pay(date(2026, 3, 20), "1.00")], product)
    state.advance_to(date(2026, 3, 20))
    assert state.compound_paid == D("1.00")
    assert state.penalty_paid == D("0")


def test_installments_must_come_last_in_allocation_order() -> None:
    order = (AllocationStep.INSTALLMENTS, AllocationStep.PENALTY)
    with pytest.raises(LedgerError, match="allocation_order"):
        status(date(2026, 3, 30), product=ProductSettings(allocation_order=order))


# -- paid off ---------------------------------------------------------------------------------


def test_paid_on_schedule_is_paid_off_on_last_due_date() -> None:
    payments = [pay(i.due_date, str(i.amount), f"p{i.seq}") for i in SCHED]
    day_before = status(date(2027, 1, 30), payments)
    assert not day_before.paid_off
    assert day_before.principal_outstanding == D("8500.20")
    st = status(date(2027, 1, 31), payments)
    assert st.paid_off
    assert st.principal_outstanding == D("0.00")
    assert st.next_due_date is None
    assert st.next_due_amount == D("0.00")
    assert st.credit_balance == D("0.00")
    assert status(date(2027, 6, 1), payments).paid_off


def test_prepaying_everything_keeps_credit_until_last_due_date() -> None:
    total = sum(i.amount for i in SCHED)
    payments = [pay(date(2026, 2, 1), str(total))]
    st = status(date(2026, 6, 1), payments)
    assert not st.paid_off
    assert st.dpd == 0
    assert st.principal_outstanding == sum(i.principal for i in SCHED[4:])
    assert st.credit_balance == sum(i.amount for i in SCHED[4:])
    st = status(date(2027, 1, 31), payments)
    assert st.paid_off
    assert st.credit_balance == D("0.00")


def test_late_last_installment_needs_penalty_on_top() -> None:
    payments = [pay(i.due_date, str(i.amount), f"p{i.seq}") for i in SCHED[:-1]]
    payments.append(pay(date(2027, 2, 10), str(SCHED[-1].amount)))
    st = status(date(2027, 2, 10), payments)
    # the payment first paid 9 days of penalty 13.87 and compound 0.05
    assert not st.paid_off
    assert st.dpd == 10
    assert st.overdue_principal == D("13.92")
    assert st.total_due_now == D("13.92")
    payments.append(pay(date(2027, 2, 11), "13.92", "last"))
    st = status(date(2027, 2, 11), payments)
    assert st.paid_off
    assert st.dpd == 0
    assert st.credit_balance == D("0.00")


def test_payment_before_start_is_credit() -> None:
    st = status(date(2026, 1, 31), [pay(date(2026, 1, 20), "100.00")])
    assert st.credit_balance == D("100.00")
    st = status(date(2026, 2, 28), [pay(date(2026, 1, 20), "100.00")])
    assert st.credit_balance == D("0.00")
    assert st.next_due_amount == D("8430.99")


# -- many dates, errors ------------------------------------------------------------------------


def test_compute_statuses_matches_compute_status() -> None:
    payments = [pay(date(2026, 3, 20), "5000.00"), pay(date(2026, 5, 2), "9000.00", "q")]
    dates = [date(2026, 1, 1) + timedelta(days=k) for k in range(0, 500, 7)]
    many = compute_statuses(LOAN, SCHED, payments, dates, DEFAULT)
    assert many == [compute_status(LOAN, SCHED, payments, d, DEFAULT) for d in dates]


def test_compute_statuses_requires_ascending_dates() -> None:
    with pytest.raises(ValueError, match="ascending"):
        compute_statuses(LOAN, SCHED, [], [date(2026, 3, 2), date(2026, 3, 1)], DEFAULT)


def test_bad_schedule_is_a_ledger_error() -> None:
    bad = (*SCHED[:-1], Installment(12, date(2027, 1, 31), D("1.00"), D("0.00")))
    with pytest.raises(LedgerError, match="principal"):
        compute_status(LOAN, bad, [], date(2026, 3, 30), DEFAULT)


def test_negative_payment_is_a_ledger_error() -> None:
    with pytest.raises(LedgerError, match="negative"):
        status(date(2026, 3, 30), [pay(date(2026, 3, 1), "-1.00")])


def test_long_overdue_is_fast_and_exact() -> None:
    st = status(date(2036, 1, 31))
    assert st.dpd == (date(2036, 1, 31) - date(2026, 2, 28)).days
    assert st.bucket == "M6+"
    assert st.classification == "loss"
    assert st.overdue_principal == D("100000.00")
    assert st.next_due_date is None
