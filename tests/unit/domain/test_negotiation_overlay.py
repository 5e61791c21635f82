"""The plan overlay (arrears.domain.negotiation.overlay) on loan-math.md's worked-example loan.

Loan: ¥100,000.00, 4.35 %, 12 months annuity, disbursed 2026-01-31; nothing paid; plans start
D = 2026-03-31 (penalty 44.42, compound 1.97, overdue interest 362.50, overdue principal
8168.49 at the opening of D; class special_mention).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from arrears.domain.ledger import compute_status
from arrears.domain.loans import LoanTerms, Payment
from arrears.domain.negotiation import (
    Components,
    PlanState,
    PlanTerms,
    evaluate_plan,
    instalment_plan,
    restructure_plan,
    settlement_plan,
    take_snapshot,
)
from arrears.domain.negotiation._tail import run_tail
from arrears.domain.negotiation.overlay import StatusFields, overlay_status, tail_figures
from arrears.domain.negotiation.snapshot import AccrualRules
from arrears.domain.products import Classification, ProductSettings, RepaymentMethod
from arrears.domain.schedules import schedule_for

D = Decimal
LOAN = LoanTerms(
    "L1", D("100000.00"), D("0.0435"), 12, date(2026, 1, 31), RepaymentMethod.ANNUITY, "B1"
)
SCHED = schedule_for(LOAN)
PRODUCT = ProductSettings()
START = date(2026, 3, 31)
DAY = timedelta(days=1)


def _contract(as_of: date, payments: list[Payment]) -> StatusFields:
    s = compute_status(LOAN, SCHED, payments, as_of, PRODUCT)
    return StatusFields(
        dpd=s.dpd,
        bucket=s.bucket,
        classification=Classification(s.classification),
        overdue_principal=s.overdue_principal,
        overdue_interest=s.overdue_interest,
        accrued_penalty=s.accrued_penalty,
        accrued_compound=s.accrued_compound,
        principal_outstanding=s.principal_outstanding,
        next_due_date=s.next_due_date,
        next_due_amount=s.next_due_amount,
        credit_balance=s.credit_balance,
        total_due_now=s.total_due_now,
        paid_off=s.paid_off,
    )


def _overlay(terms: PlanTerms, pays: list[tuple[date, Decimal]], as_of: date):  # type: ignore[no-untyped-def]
    ev = evaluate_plan(terms, pays, as_of)
    contract = _contract(as_of, [Payment(f"p{k}", on, a) for k, (on, a) in enumerate(pays)])
    return ev, overlay_status(terms, ev, contract, PRODUCT)


def _snap():  # type: ignore[no-untyped-def]
    return take_snapshot(LOAN, SCHED, [], START, PRODUCT)


# -- the ordinary rules read back from what they leave owed ----------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_tail_figures_read_a_run_as_the_ledger_does(seed: int) -> None:
    """From a run's unpaid interest, principal and credit beyond everything, the overdue
    parts, outstanding principal, next due and credit equal the ledger's own status."""
    rnd = random.Random(seed)
    payments = []
    day = LOAN.start_date
    for k in range(rnd.randint(0, 14)):
        day += timedelta(days=rnd.randint(1, 40))
        payments.append(Payment(f"p{k}", day, D(rnd.randint(100, 1_500_000)) / 100))
    as_of = LOAN.start_date + timedelta(days=rnd.randint(1, 420))
    rules = AccrualRules.of(LOAN, PRODUCT)
    tail = run_tail(
        SCHED,
        rules,
        first_day=LOAN.start_date,
        as_of=as_of,
        payments=[(p.paid_on, p.amount) for p in payments],
    )
    owed = Components(tail.penalty, tail.compound, tail.unpaid_interest, tail.unpaid_principal)
    got = tail_figures(SCHED, owed, tail.credit_balance, as_of)
    ledger = compute_status(LOAN, SCHED, payments, as_of, PRODUCT)
    for name in (
        "overdue_principal",
        "overdue_interest",
        "principal_outstanding",
        "next_due_date",
        "next_due_amount",
        "credit_balance",
        "dpd",
    ):
        assert got[name] == getattr(ledger, name), (name, seed)


# -- an active instalment plan ------------------------------------------------------------------


def test_an_active_instalment_plan_replaces_the_contracts_figures() -> None:
    # no waiver: 44.42 + 1.97 frozen, laid first; 10 days' grace per plan instalment
    terms = instalment_plan(_snap(), 3, grace_days=10)
    first, second = terms.instalments[0], terms.instalments[1]
    assert first.due_date == START  # installment 2 (due on D) is a plan payment on D
    # Nothing paid, five days after the first plan instalment: it is overdue under the plan.
    as_of = START + 5 * DAY
    ev, ov = _overlay(terms, [], as_of)
    assert ov is not None and ev.state is PlanState.ACTIVE
    st = ov.status
    assert st.dpd == ev.dpd == 5
    assert (st.bucket, st.classification) == (
        PRODUCT.bucket_for(5),
        PRODUCT.classification.floor_for(5),
    )
    assert st.total_due_now == first.amount
    # in the ledger's order: penalty, compound, installment 1 interest, principal, 2 ...
    assert st.accrued_penalty == D("44.42") and st.accrued_compound == D("1.97")
    rest = first.amount - D("44.42") - D("1.97")
    inst1, inst2 = SCHED[0], SCHED[1]
    expected_interest = inst1.interest + min(inst2.interest, max(D(0), rest - inst1.amount))
    assert st.overdue_interest == expected_interest
    assert st.overdue_principal == rest - expected_interest
    assert st.principal_outstanding == D("100000.00")  # nothing paid
    assert (st.next_due_date, st.next_due_amount) == (second.due_date, second.amount)
    assert (st.credit_balance, st.paid_off) == (D(0), False)
    # the contract disagrees (its penalty kept accruing): the note keeps its values
    assert ov.note.replaced["accrued_penalty"] > D("44.42")
    assert ov.note.source == "plan" and ov.note.class_floor is None


def test_paying_the_plan_on_time_makes_the_loan_current() -> None:
    terms = instalment_plan(_snap(), 3, grace_days=10)
    first, second = terms.instalments[0], terms.instalments[1]
    pays = [(START, first.amount), (second.due_date - 3 * DAY, D("1000.00"))]
    _, ov = _overlay(terms, pays, second.due_date - DAY)
    assert ov is not None
    st = ov.status
    assert (st.dpd, st.total_due_now, st.overdue_interest, st.overdue_principal) == (0, 0, 0, 0)
    assert st.classification is Classification.NORMAL
    # penalty and compound were paid first; the early 1000.00 waits for its due date
    assert (st.accrued_penalty, st.accrued_compound) == (D(0), D(0))
    assert st.credit_balance == D("1000.00")
    assert st.next_due_date == second.due_date and st.next_due_amount == second.amount
    interest_paid = SCHED[0].interest + min(
        SCHED[1].interest, max(D(0), first.amount - D("46.39") - SCHED[0].amount)
    )
    assert st.principal_outstanding == D("100000.00") - (first.amount - D("46.39") - interest_paid)
    # On the due date the early money is applied: the next instalment is partly paid.
    _, ov = _overlay(terms, pays, second.due_date)
    assert ov is not None
    assert ov.status.next_due_amount == second.amount - D("1000.00")
    assert ov.status.credit_balance == D(0)


# -- a restructure ----------------------------------------------------------------------------


def test_restructure_floor_holds_during_observation_and_lifts_after() -> None:
    terms = restructure_plan(_snap(), 24, classification_before=Classification.NORMAL)
    r = terms.restructure
    assert r is not None and r.classification_floor is Classification.SPECIAL_MENTION
    down = terms.instalments[0]
    # The down payment and the first two new installments paid on their dates.
    pays = [(i.due_date, i.amount) for i in terms.instalments[:3]]
    as_of = terms.instalments[2].due_date + DAY
    ev, ov = _overlay(terms, pays, as_of)
    assert ov is not None and ev.state is PlanState.ACTIVE
    st = ov.status
    assert st.dpd == 0 and st.total_due_now == 0
    assert st.classification is Classification.SPECIAL_MENTION  # normal by DPD, floored
    assert ov.note.class_floor is Classification.SPECIAL_MENTION
    # the layout follows the new schedule: the down payment is penalty, compound and
    # overdue interest, each new installment its own interest and principal
    assert down.amount == D("44.42") + D("1.97") + D("362.50")
    paid_principal = r.schedule[0].principal + r.schedule[1].principal
    assert st.principal_outstanding == r.principal - paid_principal
    assert st.next_due_date == r.schedule[2].due_date
    assert st.next_due_amount == r.schedule[2].amount
    # Late by 100 days during observation: the DPD class is worse than the floor.
    late = terms.instalments[3].due_date + 100 * DAY
    _, ov = _overlay(replace(terms, grace_days=120), pays, late)
    assert ov is not None and ov.status.dpd == 100
    assert ov.status.classification is PRODUCT.classification.floor_for(100)
    # Everything through the observation period paid: kept; the floor holds until the
    # observation end and lifts the day after.
    pays = [(i.due_date, i.amount) for i in terms.instalments]
    ev, ov = _overlay(terms, pays, r.observation_end)
    assert ov is not None and ev.state is PlanState.KEPT and ov.note.source == "after_plan"
    assert ov.status.classification is Classification.SPECIAL_MENTION
    ev, ov = _overlay(terms, pays, r.observation_end + DAY)
    assert ov is not None and ov.status.dpd == 0
    assert ov.status.classification is Classification.NORMAL and ov.note.class_floor is None
    # the contract after the plan is the rest of the new schedule
    assert ov.status.next_due_date == terms.after_plan[0].due_date
    assert ov.status.principal_outstanding == sum(i.principal for i in terms.after_plan)


def test_a_broken_restructure_keeps_the_new_contract_and_the_floor() -> None:
    terms = restructure_plan(_snap(), 12)  # before: special_mention → floor special_mention
    down = terms.instalments[0]
    as_of = down.due_date + timedelta(days=terms.grace_days + 10)
    ev, ov = _overlay(terms, [], as_of)
    assert ev.state is PlanState.BROKEN and ov is not None
    assert ov.note.source == "restructured_contract"
    assert ov.status.dpd == ev.dpd
    # the new contract's overdue interest items (dated before D) are overdue
    assert ov.status.overdue_interest == D("362.50")
    assert ov.status.accrued_penalty == ev.still_owed_components.penalty
    assert ov.status.classification is Classification.SPECIAL_MENTION


# -- kept, completed, broken ------------------------------------------------------------------


def test_a_completed_settlement_is_paid_off_with_the_discount_written_off() -> None:
    snap = _snap()
    amount = (snap.total_owed * D("0.9")).quantize(D("0.01"))
    terms = settlement_plan(snap, amount, payments=2)
    pays = [(i.due_date, i.amount) for i in terms.instalments]
    pays[-1] = (pays[-1][0], pays[-1][1] + D("5.00"))  # 5.00 too much
    ev, ov = _overlay(terms, pays, terms.instalments[-1].due_date)
    assert ev.state is PlanState.COMPLETED and ov is not None
    st = ov.status
    assert st.paid_off and st.dpd == 0 and st.classification is Classification.NORMAL
    assert st.total_due_now == st.principal_outstanding == st.accrued_penalty == 0
    assert st.next_due_date is None and st.credit_balance == D("5.00")
    assert ov.note.written_off == terms.waiver.total == snap.total_owed - amount
    assert ov.note.to_data()["written_off"] == str(snap.total_owed - amount)
    assert ov.note.replaced["paid_off"] is False  # the ledger does not know the discount


def test_a_broken_instalment_plan_leaves_the_contracts_figures() -> None:
    terms = instalment_plan(_snap(), 3)
    first = terms.instalments[0]
    ev, ov = _overlay(terms, [], first.due_date + timedelta(days=terms.grace_days + 1))
    assert ev.state is PlanState.BROKEN and ov is None


def test_a_settlement_discount_of_principal_comes_off_the_end() -> None:
    snap = _snap()
    # a discount larger than penalty + compound + every installment's interest
    interest = sum(i.interest for i in SCHED[0:])
    amount = snap.total_owed - D("46.39") - interest - D("500.00")
    terms = settlement_plan(snap, amount, payments=1, grace_days=10)
    assert terms.waiver.principal == D("500.00")
    _, ov = _overlay(terms, [], START + 3 * DAY)
    assert ov is not None
    # nothing paid: the whole settlement is overdue, all of it principal but the last 500
    assert ov.status.total_due_now == amount
    assert ov.status.overdue_interest == 0
    assert ov.status.overdue_principal == ov.status.principal_outstanding == D("99500.00")


def test_the_note_is_plain_data() -> None:
    terms = instalment_plan(_snap(), 2, grace_days=10)
    _, ov = _overlay(terms, [], START + DAY)
    assert ov is not None
    data = ov.note.to_data()
    assert data["plan_state"] == "active" and data["kind"] == "instalment"
    assert Decimal(data["still_owed"]["total"]) == terms.opening.total
    assert isinstance(data["replaced"]["dpd"], int)
