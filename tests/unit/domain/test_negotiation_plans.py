"""Plan calculator and monitor on the loan of loan-math.md's worked examples.

Loan: ¥100,000.00, 4.35 %, 12 months annuity, disbursed 2026-01-31; A = 8530.99.
Schedule (interest / principal): 1 (02-28) 362.50 / 8168.49, 2 (03-31) 332.89 / 8198.10,
3 (04-30) 303.17 / 8227.82, 4 (05-31) 273.35 / 8257.64, 5 (06-30) 243.41 / 8287.58, ...,
12 (2027-01-31) 30.81 / 8500.20. Nothing paid, plan start D = 2026-03-31: the snapshot is the
status at the end of 03-30 = worked example 2 (penalty 44.42, compound 1.97, overdue interest
362.50, overdue principal 8168.49, total due now 8577.38).
Everything owed = 11 × 8530.99 + 8531.01 + 44.42 + 1.97 = 102418.29.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from arrears.domain.errors import ValidationError
from arrears.domain.loans import LoanTerms, Payment
from arrears.domain.money import round2_fraction
from arrears.domain.negotiation import (
    AccountSnapshot,
    Components,
    InstalmentStatus,
    PlanEventKind,
    PlanKind,
    PlanState,
    PlanTerms,
    ReinstateRule,
    deferral_plan,
    evaluate_plan,
    instalment_plan,
    restructure_plan,
    restructured_contract,
    settlement_plan,
    take_snapshot,
    terms_from_data,
    terms_to_data,
    waiver_of,
)
from arrears.domain.products import Classification, ProductSettings, RepaymentMethod
from arrears.domain.schedules import generate_schedule, schedule_for

D = Decimal
LOAN = LoanTerms(
    "L1", D("100000.00"), D("0.0435"), 12, date(2026, 1, 31), RepaymentMethod.ANNUITY, "B1"
)
SCHED = schedule_for(LOAN)
DEFAULT = ProductSettings()
START = date(2026, 3, 31)
DAILY = Fraction(D("0.06525")) / 360  # 4.35 % × 1.5 / 360
OWED = D("102418.29")


def snap(
    payments: list[Payment] | None = None, product: ProductSettings = DEFAULT
) -> AccountSnapshot:
    return take_snapshot(LOAN, SCHED, payments or [], START, product)


# -- snapshot -----------------------------------------------------------------------------------


def test_snapshot_is_worked_example_2() -> None:
    s = snap()
    assert s.due_now == Components(D("44.42"), D("1.97"), D("362.50"), D("8168.49"))
    assert s.total_due_now == D("8577.38")
    assert s.total_owed == OWED
    assert [i.seq for i in s.future_items] == list(range(2, 13))
    assert s.principal_outstanding == D("100000.00")
    assert s.status.classification == "special_mention"


def test_snapshot_after_worked_example_4_payment() -> None:
    # ¥5,000 on 03-20: overdue principal left 3560.37, penalty 7.10, compound 0.00
    s = snap([Payment("p", date(2026, 3, 20), D("5000.00"))])
    assert s.due_now == Components(D("7.10"), D("0.00"), D("0.00"), D("3560.37"))
    # 5000 went 28.13 + 1.25 to accruals, 4970.62 to the installments
    assert s.total_owed == D("102371.90") - D("4970.62") + D("7.10")


def test_payments_on_the_start_day_belong_to_the_plan() -> None:
    s = snap([Payment("p", START, D("100.00"))])
    assert s.total_owed == OWED


def test_plan_must_start_after_the_loan() -> None:
    with pytest.raises(ValidationError):
        take_snapshot(LOAN, SCHED, [], LOAN.start_date, DEFAULT)


# -- instalment plan ----------------------------------------------------------------------------


def test_instalment_plan_schedule_and_totals() -> None:
    # due now less the full waiver: 8577.38 − 46.39 = 8530.99 → 2843.66, 2843.66, 2843.67
    t = instalment_plan(snap(), 3, waiver=waiver_of(snap()))
    assert t.kind is PlanKind.INSTALMENT
    # installment 2 is due on D itself: a plan payment on D; 3, 4, 5 fold into the months
    assert [(i.due_date, i.amount) for i in t.instalments] == [
        (date(2026, 3, 31), D("8530.99")),
        (date(2026, 4, 30), D("11374.65")),  # 2843.66 + 8530.99
        (date(2026, 5, 31), D("11374.65")),
        (date(2026, 6, 30), D("11374.66")),  # 2843.67 + 8530.99
    ]
    assert t.waiver == Components(penalty=D("44.42"), compound=D("1.97"))
    assert [i.seq for i in t.after_plan] == list(range(6, 13))
    assert t.payable == D("42654.95")
    assert t.after_plan_total == D("59716.95")  # 6 × 8530.99 + 8531.01
    assert t.payable + t.after_plan_total + t.waiver.total == OWED
    assert t.contract_change == 0
    assert t.plan_months == 3


def test_instalment_plan_with_down_payment() -> None:
    # 8577.38 − 1000 = 7577.38 over 2 months: 3788.69 each
    t = instalment_plan(snap(), 2, down_payment=D("1000.00"))
    assert [i.amount for i in t.instalments] == [
        D("9530.99"),  # 1000 + installment 2
        D("12319.68"),  # 3788.69 + 8530.99
        D("12319.68"),
    ]


def pay_on_time(t: PlanTerms) -> list[tuple[date, Decimal]]:
    return [(i.due_date, i.amount) for i in t.instalments]


def test_kept_plan_then_contract_paid_completes_with_exactly_the_waiver_written_off() -> None:
    t = instalment_plan(snap(), 3, waiver=waiver_of(snap()))
    pays = pay_on_time(t)
    ev = evaluate_plan(t, pays, date(2026, 7, 1))
    assert ev.state is PlanState.KEPT
    assert ev.kept_on == date(2026, 6, 30)
    assert ev.written_off == ev.waived == D("46.39")
    assert ev.still_owed == D("59716.95")  # the seven installments after the plan
    assert ev.reconciles
    kinds = [(e.kind, e.on, e.amount) for e in ev.events]
    assert (PlanEventKind.WAIVER_WRITTEN_OFF, date(2026, 6, 30), D("46.39")) in kinds
    assert all(p.status is InstalmentStatus.PAID for p in ev.instalments)
    pays += [(i.due_date, i.amount) for i in t.after_plan]
    ev = evaluate_plan(t, pays, date(2027, 2, 1))
    assert ev.state is PlanState.COMPLETED
    assert ev.completed_on == date(2027, 1, 31)
    assert ev.loan_paid_off
    assert ev.still_owed == 0
    assert ev.paid == OWED - D("46.39")
    assert ev.written_off == D("46.39")
    assert ev.reconciles


def test_active_plan_state_and_instalment_progress() -> None:
    t = instalment_plan(snap(), 3, waiver=waiver_of(snap()), grace_days=3)
    pays = [(START, D("8530.99")), (date(2026, 4, 30), D("5000.00"))]
    ev = evaluate_plan(t, pays, date(2026, 5, 2))
    assert ev.state is PlanState.ACTIVE
    assert [p.status for p in ev.instalments] == [
        InstalmentStatus.PAID,
        InstalmentStatus.DUE,  # 6374.65 short, inside its 3 days of grace
        InstalmentStatus.PENDING,
        InstalmentStatus.PENDING,
    ]
    assert ev.dpd == 2
    assert ev.paid == D("13530.99")
    # frozen: nothing accrues; owed 102418.29 − waiver 46.39 − paid 13530.99
    assert ev.still_owed == D("88840.91")
    # paid money is shown against penalty and compound first (both waived: 0 owed), then
    # interest: the 2009.40 + 362.50 of interest less 13530.99 leaves only principal
    assert ev.still_owed_components == Components(
        D("0.00"), D("0.00"), D("0.00"), D("100000.00") - (D("13530.99") - D("2371.90"))
    )
    assert ev.reconciles


def test_missed_instalment_breaks_the_plan_on_its_due_date_with_no_grace() -> None:
    t = instalment_plan(snap(), 3, waiver=waiver_of(snap()))
    ev = evaluate_plan(
        t, [(START, D("8530.99")), (date(2026, 4, 30), D("5000.00"))], date(2026, 5, 2)
    )
    assert ev.state is PlanState.BROKEN
    assert ev.broken_on == date(2026, 4, 30)
    assert [p.status for p in ev.instalments] == [
        InstalmentStatus.PAID,
        InstalmentStatus.MISSED,
        InstalmentStatus.VOID,
        InstalmentStatus.VOID,
    ]
    assert ev.instalments[1].paid == D("5000.00")
    assert ev.events[0].kind is PlanEventKind.PLAN_BROKEN
    assert ev.events[0].amount == D("6374.65")  # 11374.65 − 5000


def test_grace_days_let_an_instalment_be_late() -> None:
    t = instalment_plan(snap(), 3, grace_days=3)
    pays = pay_on_time(t)
    late = [pays[0], (date(2026, 5, 3), pays[1][1]), *pays[2:]]
    assert evaluate_plan(t, late, date(2026, 5, 10)).state is PlanState.ACTIVE
    later = [pays[0], (date(2026, 5, 4), pays[1][1]), *pays[2:]]
    ev = evaluate_plan(t, later, date(2026, 5, 10))
    assert ev.state is PlanState.BROKEN
    assert ev.broken_on == date(2026, 5, 3)


def broken_at_june(
    rule: ReinstateRule, conditional: bool = True
) -> tuple[PlanTerms, list[tuple[date, Decimal]]]:
    t = instalment_plan(
        snap(), 3, waiver=waiver_of(snap()), reinstate=rule, waiver_conditional=conditional
    )
    pays = pay_on_time(t)[:3]  # 8530.99 + 11374.65 + 11374.65 = 31280.29; 06-30 missed
    return t, pays


def test_broken_plan_reinstates_all_and_reverts_to_the_contract() -> None:
    t, pays = broken_at_june(ReinstateRule.ALL)
    ev = evaluate_plan(t, pays, date(2026, 6, 30))
    assert ev.state is PlanState.BROKEN
    assert ev.reinstated == D("46.39")
    assert ev.written_off == ev.waived == 0
    # nothing accrued yet: 102418.29 − 31280.29
    assert ev.still_owed == D("71138.00")
    # 46.39 to penalty + compound, 31233.90 to installments 1-3 (25592.97) and 5640.93 of
    # installment 4 (273.35 interest, 5367.58 principal): 8257.64 − 5367.58 = 2890.06 left
    assert ev.still_owed_components.penalty == 0
    assert ev.dpd == 30  # 06-30 − 05-31
    # one day later: installment 4's 2890.06 and installment 5 (8287.58 / 243.41) overdue
    ev = evaluate_plan(t, pays, date(2026, 7, 1))
    penalty = round2_fraction(Fraction(D("2890.06") + D("8287.58")) * DAILY)  # 2.0259… → 2.03
    compound = round2_fraction(Fraction(D("243.41")) * DAILY)  # 0.0441… → 0.04
    assert (penalty, compound) == (D("2.03"), D("0.04"))
    assert ev.still_owed_components.penalty == penalty
    assert ev.still_owed_components.compound == compound
    assert ev.accrued_after == penalty + compound
    assert ev.still_owed == D("71138.00") + penalty + compound
    assert ev.reconciles


def test_broken_plan_reinstates_pro_rata() -> None:
    # earned share 31280.29 / 42654.95 = 0.73333…: penalty 44.42 × r = 32.574… → 32.57,
    # compound 1.97 × r = 1.444… → 1.44; written off 34.01, reinstated 46.39 − 34.01 = 12.38
    t, pays = broken_at_june(ReinstateRule.PRO_RATA)
    ev = evaluate_plan(t, pays, date(2026, 6, 30))
    assert ev.written_off == D("34.01")
    assert ev.reinstated == D("12.38")
    assert ev.still_owed == OWED - D("34.01") - D("31280.29")
    kinds = {e.kind: e.amount for e in ev.events}
    assert kinds[PlanEventKind.WAIVER_REINSTATED] == D("12.38")
    assert kinds[PlanEventKind.WAIVER_WRITTEN_OFF] == D("34.01")
    assert ev.reconciles


def test_unconditional_waiver_is_written_off_at_once_and_never_reinstated() -> None:
    t, pays = broken_at_june(ReinstateRule.ALL, conditional=False)
    ev = evaluate_plan(t, pays[:1], START)
    assert ev.written_off == D("46.39")
    assert ev.events[0].kind is PlanEventKind.WAIVER_WRITTEN_OFF
    assert ev.events[0].on == START
    ev = evaluate_plan(t, pays, date(2026, 6, 30))
    assert ev.state is PlanState.BROKEN
    assert ev.reinstated == 0
    assert ev.written_off == D("46.39")
    assert ev.reconciles


def test_payments_before_the_plan_are_rejected() -> None:
    t = instalment_plan(snap(), 3)
    with pytest.raises(ValidationError):
        evaluate_plan(t, [(START - timedelta(days=1), D("1"))], START)


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"months": 0}, "months"),
        ({"months": 3, "down_payment": D("9000")}, "down_payment"),
        ({"months": 3, "waiver": Components(penalty=D("50"))}, "waiver"),
        ({"months": 3, "waiver": Components(interest=D("1"))}, "waiver"),
        ({"months": 3, "grace_days": -1}, "grace_days"),
    ],
)
def test_bad_instalment_parameters(kwargs: dict[str, object], column: str) -> None:
    with pytest.raises(ValidationError) as exc:
        instalment_plan(snap(), **kwargs)  # type: ignore[arg-type]
    assert exc.value.issues[0].column == column


def test_instalment_plan_needs_an_amount_due() -> None:
    current = replace(snap(), penalty=D("0.00"), compound=D("0.00"))
    current = replace(current, items=current.future_items)
    with pytest.raises(ValidationError):
        instalment_plan(current, 3)


# -- deferral -----------------------------------------------------------------------------------


def test_deferral_moves_everything_three_months() -> None:
    # 8577.38 over 2: 4288.69 each, due 06-30 and 07-31; installment k (k >= 2) moves to
    # add_months(01-31, k + 3): 2 → 06-30, 3 → 07-31, 4 → 08-31 (after the window)
    t = deferral_plan(snap(), 3, spread_months=2)
    assert [(i.due_date, i.amount) for i in t.instalments] == [
        (date(2026, 6, 30), D("12819.68")),
        (date(2026, 7, 31), D("12819.68")),
    ]
    assert t.after_plan[0].seq == 4
    assert t.after_plan[0].due_date == date(2026, 8, 31)
    assert t.after_plan[-1].due_date == date(2027, 4, 30)
    assert t.payable + t.after_plan_total == OWED
    ev = evaluate_plan(t, [], date(2026, 6, 29))
    assert ev.state is PlanState.ACTIVE
    assert ev.dpd == 0


# -- settlement ---------------------------------------------------------------------------------


def test_settlement_discount_is_taken_from_penalty_first() -> None:
    # discount 102418.29 − 80000 = 22418.29 = 44.42 + 1.97 + all interest 2371.90 + 20000.00
    t = settlement_plan(snap(), D("80000.00"), payments=2)
    assert t.waiver == Components(D("44.42"), D("1.97"), D("2371.90"), D("20000.00"))
    assert [(i.due_date, i.amount) for i in t.instalments] == [
        (START, D("40000.00")),
        (date(2026, 4, 30), D("40000.00")),
    ]
    ev = evaluate_plan(t, pay_on_time(t), date(2026, 4, 30))
    assert ev.state is PlanState.COMPLETED
    assert ev.loan_paid_off
    assert ev.written_off == D("22418.29")
    assert ev.reconciles
    ev = evaluate_plan(t, pay_on_time(t)[:1], date(2026, 4, 30))
    assert ev.state is PlanState.BROKEN
    assert ev.reinstated == D("22418.29")
    assert ev.still_owed == OWED - D("40000.00")
    assert ev.reconciles


def test_settlement_amount_must_be_within_what_is_owed() -> None:
    with pytest.raises(ValidationError):
        settlement_plan(snap(), OWED + D("0.01"))
    with pytest.raises(ValidationError):
        settlement_plan(snap(), D("100"), payments=2, amounts=[D("60"), D("30")])


# -- restructure --------------------------------------------------------------------------------


def test_restructure_new_schedule_floor_and_observation() -> None:
    t = restructure_plan(snap(), 24, annual_rate=D("0.03"), waiver=waiver_of(snap()))
    r = t.restructure
    assert r is not None
    new = generate_schedule(D("100000.00"), D("0.03"), 24, START, RepaymentMethod.ANNUITY)
    assert r.schedule == new
    # down payment on D: overdue interest 362.50 (penalty and compound waived)
    assert t.instalments[0].due_date == START
    assert t.instalments[0].amount == D("362.50")
    # observation: at least 2 periods and one year → 2027-03-31; later installments after it
    assert r.observation_end == date(2027, 3, 31)
    assert t.instalments[-1].due_date == date(2027, 3, 31)
    assert len(t.instalments) == 1 + 12
    assert len(t.after_plan) == 12
    new_interest = sum((i.interest for i in new), D(0))
    # the old contract's interest not yet due: 2371.90 − 362.50 = 2009.40
    assert t.contract_change == new_interest - D("2009.40")
    assert t.owed_at_start == OWED + t.contract_change
    assert r.classification_before is Classification.SPECIAL_MENTION
    assert r.classification_floor is Classification.SPECIAL_MENTION
    assert r.classification_on(date(2026, 6, 1), Classification.NORMAL) is (
        Classification.SPECIAL_MENTION
    )
    assert r.classification_on(date(2027, 4, 1), Classification.NORMAL) is Classification.NORMAL
    assert t.restructured
    loan, sched = restructured_contract(LOAN, t)
    assert (loan.principal, loan.annual_rate, loan.term_months, loan.start_date) == (
        D("100000.00"),
        D("0.03"),
        24,
        START,
    )
    assert sched == new


def test_restructure_floor_from_substandard() -> None:
    t = restructure_plan(snap(), 6, classification_before=Classification.SUBSTANDARD)
    assert t.restructure is not None
    assert t.restructure.classification_floor is Classification.SUBSTANDARD
    # 6 monthly periods: the observation year runs past the last installment
    assert t.after_plan == ()


def test_broken_restructure_keeps_the_new_contract() -> None:
    t = restructure_plan(snap(), 12, waiver=waiver_of(snap()))
    assert t.restructure is not None
    first, second = t.restructure.schedule[:2]
    pays = pay_on_time(t)[:2]  # down payment 362.50 and the first new installment; 05-31 missed
    ev = evaluate_plan(t, pays, date(2026, 6, 1))
    assert ev.state is PlanState.BROKEN
    assert ev.broken_on == date(2026, 5, 31)
    assert ev.reinstated == D("46.39")
    # the waterfall pays the reinstated 46.39 first, then the overdue interest 362.50, so the
    # first new installment (due 04-30) is 46.39 short in principal: DPD 06-01 − 04-30 = 32
    assert ev.dpd == 32
    penalty = round2_fraction(Fraction(D("46.39") + second.principal) * DAILY)
    compound = round2_fraction(Fraction(second.interest) * DAILY)
    assert ev.still_owed_components.penalty == penalty
    assert ev.still_owed_components.compound == compound
    assert ev.still_owed == t.owed_at_start - D("362.50") - first.amount + penalty + compound
    assert ev.reconciles


# -- plain data ---------------------------------------------------------------------------------


def test_terms_round_trip_and_bad_data() -> None:
    t = restructure_plan(snap(), 24, waiver=waiver_of(snap()))
    data = terms_to_data(t)
    assert data["instalments"][0] == {"seq": 1, "due_date": "2026-03-31", "amount": "362.50"}
    assert terms_from_data(data) == t
    tampered = {**data, "waiver": {**data["waiver"], "penalty": "0.00"}}
    with pytest.raises(ValidationError, match="waiver"):
        terms_from_data(tampered)  # no longer reconciles
    with pytest.raises(ValidationError):
        terms_from_data({**data, "start": "31/03/2026"})
    with pytest.raises(ValidationError):
        terms_from_data({k: v for k, v in data.items() if k != "rules"})
