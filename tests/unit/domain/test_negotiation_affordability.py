"""Affordability, authority limits and the recovery estimate on the worked-example loan.

Loan of loan-math.md (¥100,000.00, 4.35 %, 12 months annuity from 2026-01-31, A = 8530.99),
nothing paid, plan start 2026-03-31: due now 8577.38 (penalty 44.42, compound 1.97), owed in
all 102418.29, bucket M1 (DPD 30 at the end of 03-30).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from arrears.domain.errors import ValidationError
from arrears.domain.loans import LoanTerms
from arrears.domain.negotiation import (
    AccountSnapshot,
    AffordabilityPolicy,
    IncomeExpenditure,
    PlanKind,
    RecoveryTable,
    RoleLimits,
    approver_roles,
    check_approval,
    check_authority,
    compare_recovery,
    deferral_plan,
    disposable_income,
    expected_recovery_otherwise,
    instalment_plan,
    propose_plans,
    restructure_plan,
    settlement_plan,
    take_snapshot,
    waiver_of,
)
from arrears.domain.products import ProductSettings, RepaymentMethod
from arrears.domain.schedules import generate_schedule, schedule_for

D = Decimal
LOAN = LoanTerms(
    "L1", D("100000.00"), D("0.0435"), 12, date(2026, 1, 31), RepaymentMethod.ANNUITY, "B1"
)
START = date(2026, 3, 31)
SNAP = take_snapshot(LOAN, schedule_for(LOAN), [], START, ProductSettings())
# living costs max(2000, 3 × 1500) = 4500; disposable 20000 − 3000 − 1000 − 4500 = 11500
IE = IncomeExpenditure(
    monthly_income=D("20000"),
    household_size=3,
    rent=D("3000"),
    other_debt_payments=D("1000"),
    essential_costs=D("2000"),
)
POLICY = AffordabilityPolicy(
    living_allowance_per_member=D("1500"),
    max_term_months=12,
    min_instalment=D("500"),
    max_waiver_pct=D("0.5"),
    max_settlement_discount=D("0.3"),
    max_settlement_payments=3,
    deferral_months=2,
    restructure_max_term=36,
)
AGENT = RoleLimits("agent", D("0.5"), D("0.1"), 6)
SUPERVISOR = RoleLimits("supervisor", D("1"), D("0.3"), 36, 3, may_restructure=True)


def test_disposable_income() -> None:
    assert disposable_income(IE, POLICY) == D("11500")
    # declared essential costs above the allowance are used as declared
    more = IncomeExpenditure(D("20000"), 1, essential_costs=D("6000"))
    assert disposable_income(more, POLICY) == D("14000")
    poor = IncomeExpenditure(D("1000"), 2, rent=D("800"))
    assert disposable_income(poor, POLICY) == D("-2800")


def test_proposal_for_the_worked_example() -> None:
    p = propose_plans(SNAP, IE, POLICY, role=AGENT)
    opts = {o.kind: o for o in p.options}
    assert p.disposable == D("11500")
    # instalment: 1 month 8577.38 + 8530.99 > 11500; 2 months 4288.69 + 8530.99 > 11500;
    # 3 months round2(8577.38 / 3) = 2859.13 + 8530.99 = 11390.12 <= 11500
    inst = opts[PlanKind.INSTALMENT]
    assert inst.terms is not None
    assert inst.terms.months == 3
    assert inst.terms.waiver.total == 0  # no waiver needed
    assert inst.largest_monthly == D("11390.12")
    assert inst.authority is not None
    assert not inst.authority.needs_approval
    # deferral 2 months, then spread: the same arithmetic → 3 months
    dfr = opts[PlanKind.DEFERRAL]
    assert dfr.terms is not None
    assert (dfr.terms.deferral_months, dfr.terms.months) == (2, 3)
    assert dfr.authority is not None
    assert [r.code for r in dfr.authority.reasons] == ["DEFERRAL_ABOVE_LIMIT"]
    # settlement: at most 3 × 11500 = 34500 of 102418.29 → 66.31 % discount > 30 %
    st = opts[PlanKind.SETTLEMENT]
    assert st.terms is None
    assert [r.code for r in st.reasons] == ["DISCOUNT_ABOVE_POLICY"]
    assert "66.31 %" in st.reasons[0].text
    # restructure: the shortest term whose annuity fits in 11500
    rs = opts[PlanKind.RESTRUCTURE]
    assert rs.terms is not None
    fits = [
        n
        for n in range(1, 37)
        if max(
            i.amount for i in generate_schedule(D("100000.00"), D("0.0435"), n, START, LOAN.method)
        )
        <= D("11500")
    ]
    assert rs.terms.months == fits[0] == 9
    assert rs.authority is not None
    assert rs.authority.needs_approval  # agents may not restructure, 9 > 6 months
    assert {o.kind for o in p.affordable} == {
        PlanKind.INSTALMENT,
        PlanKind.DEFERRAL,
        PlanKind.RESTRUCTURE,
    }


def test_a_lump_sum_makes_settlement_possible() -> None:
    # lump 80000: one payment 91500 is short, two payments reach 103000 >= 102418.29,
    # so the settlement is in full (no discount), 90918.29 now and 11500 next month
    ie = IncomeExpenditure(D("20000"), 3, D("3000"), D("1000"), D("2000"), D("80000"))
    p = propose_plans(SNAP, ie, POLICY)
    st = next(o for o in p.options if o.kind is PlanKind.SETTLEMENT)
    assert st.terms is not None
    assert [i.amount for i in st.terms.instalments] == [D("90918.29"), D("11500.00")]
    assert st.terms.waiver.total == 0


def test_nothing_fits_an_empty_budget() -> None:
    poor = IncomeExpenditure(D("3000"), 2, rent=D("800"))
    p = propose_plans(SNAP, poor, POLICY)
    assert p.affordable == ()
    inst = next(o for o in p.options if o.kind is PlanKind.INSTALMENT)
    assert "UNAFFORDABLE" in {r.code for r in inst.reasons}
    assert all(o.reasons for o in p.options)


def test_matured_loan_uses_the_waiver_only_when_needed() -> None:
    snap = take_snapshot(LOAN, schedule_for(LOAN), [], date(2027, 6, 1), ProductSettings())
    assert snap.future_items == ()
    due = snap.total_due_now
    ie = IncomeExpenditure(D("15000"), 1)
    policy = AffordabilityPolicy(max_term_months=12, max_waiver_pct=D("1"))
    p = propose_plans(snap, ie, policy)
    inst = next(o for o in p.options if o.kind is PlanKind.INSTALMENT)
    assert inst.terms is not None
    # 12 × 15000 = 180000 covers the whole debt: the smallest N with round2(due/N) <= 15000
    n = next(k for k in range(1, 13) if max(due / k, due - (k - 1) * (due / k)) <= 15000)
    assert inst.terms.months == n
    assert inst.terms.waiver.total == 0
    assert inst.terms.after_plan == ()


def test_bad_forms() -> None:
    with pytest.raises(ValidationError):
        propose_plans(SNAP, IncomeExpenditure(D("-1"), 1), POLICY)
    with pytest.raises(ValidationError):
        propose_plans(SNAP, IncomeExpenditure(D("1"), 0), POLICY)
    with pytest.raises(ValidationError):
        propose_plans(SNAP, IE, AffordabilityPolicy(max_waiver_pct=D("2")))


# -- authority ----------------------------------------------------------------------------------


def test_waiver_limit_and_four_eyes() -> None:
    full = instalment_plan(SNAP, 3, waiver=waiver_of(SNAP))
    d = check_authority(full, AGENT)
    assert d.needs_approval
    assert [r.code for r in d.reasons] == ["WAIVER_ABOVE_LIMIT"]
    assert "100.00 %" in d.reasons[0].text
    assert not check_authority(full, SUPERVISOR).needs_approval
    assert approver_roles(full, [AGENT, SUPERVISOR]) == ("supervisor",)
    same = check_approval(full, "u1", "u1", SUPERVISOR)
    assert [r.code for r in same.reasons] == ["SAME_PERSON"]
    assert not check_approval(full, "u1", "u2", SUPERVISOR).needs_approval
    assert check_approval(full, "u1", "u2", AGENT).needs_approval


def test_half_waiver_stays_within_a_half_limit() -> None:
    # 44.42 / 2 = 22.21; 1.97 / 2 = 0.985 → 0.98 (rounded down): 23.19 / 46.39 <= 50 %
    half = waiver_of(SNAP, D("0.5"), D("0.5"))
    assert (half.penalty, half.compound) == (D("22.21"), D("0.98"))
    t = instalment_plan(SNAP, 3, waiver=half)
    assert not check_authority(t, AGENT).needs_approval


def test_settlement_term_deferral_and_restructure_limits() -> None:
    st = settlement_plan(SNAP, D("80000.00"))  # discount 22418.29 / 102418.29 = 21.89 %
    assert [r.code for r in check_authority(st, AGENT).reasons] == ["DISCOUNT_ABOVE_LIMIT"]
    assert not check_authority(st, SUPERVISOR).needs_approval
    long = instalment_plan(SNAP, 9)
    assert [r.code for r in check_authority(long, AGENT).reasons] == ["TERM_ABOVE_LIMIT"]
    holiday = deferral_plan(SNAP, 3)
    assert [r.code for r in check_authority(holiday, AGENT).reasons] == ["DEFERRAL_ABOVE_LIMIT"]
    rs = restructure_plan(SNAP, 24)
    assert [r.code for r in check_authority(rs, AGENT).reasons] == [
        "TERM_ABOVE_LIMIT",
        "RESTRUCTURE_NOT_ALLOWED",
    ]
    assert not check_authority(rs, SUPERVISOR).needs_approval


# -- recovery -----------------------------------------------------------------------------------


def test_recovery_estimate() -> None:
    snap: AccountSnapshot = SNAP
    assert snap.status.bucket == "M1"
    # 102418.29 × 0.85 = 87055.5465 → 87055.55
    assert expected_recovery_otherwise(snap, RecoveryTable()) == D("87055.55")
    c = compare_recovery(settlement_plan(snap, D("80000.00")), snap)
    assert c.recovers_if_kept == D("80000.00")
    assert c.gain_if_kept == D("-7055.55")
    # 80000 × 0.6 + 87055.55 × 0.4 × 0.8 = 48000 + 27857.776 → 75857.78
    assert c.expected_with_plan == D("75857.78")
    assert c.expected_gain == D("-11197.77")
    sure = compare_recovery(instalment_plan(snap, 3), snap, RecoveryTable(keep_rate=D("1")))
    assert sure.expected_with_plan == sure.recovers_if_kept == D("102418.29")
