"""Properties of repayment plans, their monitoring and promises (docs/negotiation.md).

Random loans via generate_schedule, random payment histories before the plan, random plans
of every kind and random plan payments:

- the ordinary-rules run after a plan (``_tail``) equals ``LedgerState`` on a fresh loan;
- the snapshot is the ledger's status the day before the plan;
- plan terms and evaluations reconcile to the cent:
  ``owed_at_start + accrued_after == paid − credit + waived + still_owed``;
- a plan paid on time ends completed with the loan paid off and exactly the waiver written off;
- a broken plan reinstates exactly what its terms say;
- decisions (broken, completed, promise states) do not change with a later as-of date.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from arrears.domain.errors import ValidationError
from arrears.domain.ledger import LedgerState, compute_status
from arrears.domain.loans import Installment, LoanTerms, Payment
from arrears.domain.money import ZERO, from_minor, round2_fraction, to_minor
from arrears.domain.negotiation import (
    AccountSnapshot,
    AccrualRules,
    PlanKind,
    PlanState,
    PlanTerms,
    PromiseTolerance,
    ReinstateRule,
    deferral_plan,
    evaluate_plan,
    evaluate_promise,
    instalment_plan,
    restructure_plan,
    settlement_plan,
    take_snapshot,
    terms_from_data,
    terms_to_data,
    waiver_of,
)
from arrears.domain.negotiation._tail import run_tail
from arrears.domain.products import ProductSettings, RepaymentMethod
from arrears.domain.schedules import schedule_for
from arrears.domain.strategy import PromiseStatus

SETTINGS = settings(max_examples=200, deadline=None)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Book:
    loan: LoanTerms
    schedule: tuple[Installment, ...]
    payments: list[Payment]
    product: ProductSettings


@st.composite
def books(draw: st.DrawFn, max_term: int = 12, max_payments: int = 6) -> Book:
    loan = LoanTerms(
        "L",
        from_minor(draw(st.integers(100_00, 1_000_000_00))),
        Decimal(draw(st.integers(0, 3600))).scaleb(-4),
        draw(st.integers(1, max_term)),
        draw(st.dates(date(2020, 1, 1), date(2030, 12, 31))),
        draw(st.sampled_from(list(RepaymentMethod))),
        "B",
    )
    sched = schedule_for(loan)
    product = ProductSettings(
        grace_days=draw(st.integers(0, 5)),
        compound_on_overdue_interest=draw(st.booleans()),
        penalty_markup=Decimal(draw(st.sampled_from([0, 3, 5, 10]))).scaleb(-1),
    )
    horizon = (sched[-1].due_date - loan.start_date).days + 60
    top = 2 * to_minor(max(i.amount for i in sched))
    payments = [
        Payment(
            f"p{k}",
            loan.start_date + timedelta(days=draw(st.integers(0, horizon))),
            from_minor(draw(st.integers(1, top))),
        )
        for k in range(draw(st.integers(0, max_payments)))
    ]
    return Book(loan, sched, payments, product)


# -- the ordinary rules from an opening state ----------------------------------------------------


@SETTINGS
@given(books(), st.data())
def test_tail_run_equals_the_ledger(book: Book, data: st.DataObject) -> None:
    last = book.schedule[-1].due_date + timedelta(days=60)
    as_of = data.draw(st.dates(book.loan.start_date, last))
    st_ = compute_status(book.loan, book.schedule, book.payments, as_of, book.product)
    tail = run_tail(
        book.schedule,
        AccrualRules.of(book.loan, book.product),
        first_day=book.loan.start_date,
        as_of=as_of,
        payments=[(p.paid_on, p.amount) for p in book.payments],
    )
    assert (tail.penalty, tail.compound) == (st_.accrued_penalty, st_.accrued_compound)
    assert (tail.overdue_interest, tail.overdue_principal) == (
        st_.overdue_interest,
        st_.overdue_principal,
    )
    assert tail.dpd == st_.dpd
    assert tail.paid_off == st_.paid_off
    assert tail.next_due_date == st_.next_due_date


@SETTINGS
@given(books(), st.data())
def test_snapshot_is_the_ledger_the_day_before(book: Book, data: st.DataObject) -> None:
    last = book.schedule[-1].due_date + timedelta(days=60)
    start = data.draw(st.dates(book.loan.start_date + DAY, last))
    snap = take_snapshot(book.loan, book.schedule, book.payments, start, book.product)
    eve = compute_status(book.loan, book.schedule, book.payments, start - DAY, book.product)
    assert snap.penalty == eve.accrued_penalty
    assert snap.compound == eve.accrued_compound
    # due now at the opening of D = overdue at the end of D − 1 + an installment due on D − 1
    due_yesterday = eve.next_due_amount if eve.next_due_date == start - DAY else ZERO
    if due_yesterday == 0:
        assert snap.overdue_interest == eve.overdue_interest
        assert snap.overdue_principal == eve.overdue_principal
    assert snap.total_due_now == eve.total_due_now + due_yesterday
    if eve.credit_balance == 0:
        assert snap.principal_outstanding == eve.principal_outstanding
    # what went in = what was paid to accruals + to installments, and the rest is owed
    state = LedgerState(
        book.loan, book.schedule, [p for p in book.payments if p.paid_on < start], book.product
    )
    state.advance_to(start - DAY)
    contract = sum((i.amount for i in book.schedule), ZERO)
    applied = state.s - snap.unapplied_credit
    assert snap.total_owed - snap.penalty - snap.compound == contract - applied


# -- plans ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    book: Book
    snap: AccountSnapshot
    terms: PlanTerms


SHARES = st.sampled_from([Decimal(0), Decimal("0.5"), Decimal("0.37"), Decimal(1)])


@st.composite
def cases(draw: st.DrawFn) -> Case:
    book = draw(books())
    last = book.schedule[-1].due_date + timedelta(days=120)
    start = draw(st.dates(book.loan.start_date + DAY, last))
    snap = take_snapshot(book.loan, book.schedule, book.payments, start, book.product)
    kind = draw(st.sampled_from(list(PlanKind)))
    waiver = waiver_of(snap, draw(SHARES), draw(SHARES))
    conditional = draw(st.booleans())
    rule = draw(st.sampled_from(list(ReinstateRule)))
    grace = draw(st.integers(0, 5))
    build: Callable[[], PlanTerms]
    if kind is PlanKind.INSTALMENT:
        due = snap.total_due_now - waiver.total
        down = from_minor(draw(st.integers(0, max(0, to_minor(due)))))
        months = draw(st.integers(1, 12))

        def build() -> PlanTerms:
            return instalment_plan(
                snap,
                months,
                down_payment=down,
                waiver=waiver,
                waiver_conditional=conditional,
                reinstate=rule,
                grace_days=grace,
            )

    elif kind is PlanKind.DEFERRAL:
        months, spread = draw(st.integers(1, 6)), draw(st.integers(1, 6))

        def build() -> PlanTerms:
            return deferral_plan(
                snap,
                months,
                spread_months=spread,
                waiver=waiver,
                waiver_conditional=conditional,
                reinstate=rule,
                grace_days=grace,
            )

    elif kind is PlanKind.SETTLEMENT:
        owed = to_minor(snap.total_owed)
        amount = from_minor(draw(st.integers(max(1, owed // 2), max(1, owed))))
        payments = draw(st.integers(1, 3))

        def build() -> PlanTerms:
            return settlement_plan(snap, amount, payments=payments, grace_days=grace)

    else:
        term = draw(st.integers(1, 24))
        rate = Decimal(draw(st.integers(0, 2000))).scaleb(-4)
        method = draw(st.sampled_from(list(RepaymentMethod)))

        def build() -> PlanTerms:
            return restructure_plan(
                snap,
                term,
                annual_rate=rate,
                method=method,
                waiver=waiver,
                waiver_conditional=conditional,
                reinstate=rule,
                grace_days=grace,
            )

    try:
        terms = build()
    except ValidationError:
        assume(False)
        raise
    return Case(book, snap, terms)


def last_day(t: PlanTerms) -> date:
    dates = [i.due_date for i in t.instalments] + [i.due_date for i in t.after_plan]
    return max(dates) + timedelta(days=t.grace_days)


@SETTINGS
@given(cases())
def test_terms_reconcile_with_the_ledger(case: Case) -> None:
    t, snap = case.terms, case.snap
    assert t.payable + t.after_plan_total + t.waiver.total == t.owed_at_start
    assert t.ledger_owed.total == snap.total_owed
    assert t.waiver.fits_within(t.opening)
    if t.kind is PlanKind.RESTRUCTURE:
        assert t.restructure is not None
        assert t.opening.principal == snap.principal_outstanding
        new_interest = sum((i.interest for i in t.restructure.schedule), ZERO)
        assert t.contract_change == new_interest - snap.future_interest
    else:
        assert t.opening == snap.owed
        assert t.contract_change == 0
    if t.kind is PlanKind.INSTALMENT:
        assert all(i.due_date > t.end_date for i in t.after_plan)


@SETTINGS
@given(cases())
def test_terms_survive_plain_data(case: Case) -> None:
    data = terms_to_data(case.terms)
    assert json.loads(json.dumps(data)) == data
    assert terms_from_data(data) == case.terms


@st.composite
def plan_payments(draw: st.DrawFn, t: PlanTerms) -> list[tuple[date, Decimal]]:
    top = 2 * to_minor(max(i.amount for i in t.instalments))
    end = last_day(t) + timedelta(days=60)
    span = (end - t.start).days
    return [
        (
            t.start + timedelta(days=draw(st.integers(0, span))),
            from_minor(draw(st.integers(1, top))),
        )
        for _ in range(draw(st.integers(0, 8)))
    ]


@SETTINGS
@given(cases(), st.data())
def test_random_payments_reconcile_to_the_cent(case: Case, data: st.DataObject) -> None:
    t = case.terms
    pays = data.draw(plan_payments(t))
    as_of = data.draw(st.dates(t.start, last_day(t) + timedelta(days=90)))
    ev = evaluate_plan(t, pays, as_of)
    assert ev.reconciles, ev
    assert ev.paid == sum((a for d, a in pays if d <= as_of), ZERO)
    assert ev.still_owed >= 0
    assert ev.credit_balance >= 0
    assert ZERO <= ev.written_off <= t.waiver.total
    if ev.state is PlanState.BROKEN:
        assert ev.written_off + ev.reinstated == t.waiver.total
    assert ev.still_owed_components.total == ev.still_owed
    if ev.state is PlanState.COMPLETED:
        assert ev.loan_paid_off
        assert ev.written_off == ev.waived == t.waiver.total
    if ev.state in (PlanState.KEPT, PlanState.COMPLETED):
        assert ev.written_off == t.waiver.total
        assert ev.reinstated == 0
    # a later as-of never undoes a decision
    later = evaluate_plan(t, pays, as_of + timedelta(days=data.draw(st.integers(1, 400))))
    if ev.state is PlanState.BROKEN:
        assert (later.state, later.broken_on, later.written_off) == (
            PlanState.BROKEN,
            ev.broken_on,
            ev.written_off,
        )
    if ev.kept_on is not None:
        assert later.kept_on == ev.kept_on
        assert later.state in (PlanState.KEPT, PlanState.COMPLETED)
    if ev.state is PlanState.COMPLETED:
        assert later.state is PlanState.COMPLETED
        assert later.completed_on == ev.completed_on


@SETTINGS
@given(cases())
def test_plan_paid_on_time_pays_off_the_loan_with_exactly_the_waiver_written_off(
    case: Case,
) -> None:
    t = case.terms
    pays = [(i.due_date, i.amount) for i in t.instalments]
    pays += [(i.due_date, i.amount) for i in t.after_plan]
    ev = evaluate_plan(t, pays, last_day(t) + DAY)
    assert ev.state is PlanState.COMPLETED
    assert ev.loan_paid_off
    assert ev.still_owed == 0
    assert ev.credit_balance == 0
    assert ev.accrued_after == 0
    assert ev.written_off == ev.waived == t.waiver.total
    assert ev.paid == t.total_if_kept
    # what the ledger said was owed = paid + written off (+ the restructure's new contract)
    assert ev.paid + ev.written_off == case.snap.total_owed + t.contract_change


@SETTINGS
@given(cases(), st.data())
def test_broken_plan_reinstates_exactly_what_the_terms_say(case: Case, data: st.DataObject) -> None:
    t = case.terms
    j = data.draw(st.integers(0, len(t.instalments) - 1))  # instalments before j paid on time
    pays = [(i.due_date, i.amount) for i in t.instalments[:j]]
    broken_on = t.instalments[j].due_date + timedelta(days=t.grace_days)
    ev = evaluate_plan(t, pays, broken_on)
    assert ev.state is PlanState.BROKEN
    assert ev.broken_on == broken_on
    paid = sum((a for _, a in pays), ZERO)
    w = t.waiver
    if not t.waiver_conditional:
        expected = w.total
    elif t.reinstate is ReinstateRule.ALL:
        expected = ZERO
    else:
        share = Fraction(paid) / Fraction(t.payable)
        expected = round2_fraction(Fraction(w.penalty) * share) + round2_fraction(
            Fraction(w.compound) * share
        )
    assert ev.written_off == expected
    assert ev.reinstated == w.total - expected
    # nothing accrues on the day of the break: the rest of what was owed is owed again
    assert ev.accrued_after == 0
    assert ev.still_owed == t.owed_at_start - paid - expected
    assert ev.reconciles


# -- promises ------------------------------------------------------------------------------------


@st.composite
def promises(
    draw: st.DrawFn,
) -> tuple[date, list[tuple[date, Decimal]], list[tuple[date, Decimal]], PromiseTolerance]:
    made = draw(st.dates(date(2024, 1, 1), date(2030, 1, 1)))
    offsets = draw(st.lists(st.integers(0, 60), min_size=1, max_size=4, unique=True))
    promised = [
        (made + timedelta(days=o), from_minor(draw(st.integers(1, 100_000)))) for o in offsets
    ]
    pays = [
        (made + timedelta(days=draw(st.integers(-5, 70))), from_minor(draw(st.integers(0, 80_000))))
        for _ in range(draw(st.integers(0, 5)))
    ]
    tol = PromiseTolerance(
        from_minor(draw(st.integers(0, 500))), Decimal(draw(st.integers(0, 10))).scaleb(-2)
    )
    return made, promised, pays, tol


@SETTINGS
@given(promises(), st.integers(0, 80), st.integers(1, 60))
def test_promise_states_are_consistent(
    p: tuple[date, list[tuple[date, Decimal]], list[tuple[date, Decimal]], PromiseTolerance],
    offset: int,
    more: int,
) -> None:
    made, promised, pays, tol = p
    as_of = made + timedelta(days=offset)
    ev = evaluate_promise(promised, pays, as_of, made_on=made, tolerance=tol)
    total = sum((a for _, a in promised), ZERO)
    last = max(d for d, _ in promised)

    def paid_by(d: date) -> Decimal:
        return sum((a for on, a in pays if made <= on <= d), ZERO)

    assert ev.promised_total == total
    assert ev.paid == paid_by(as_of)
    if ev.status is PromiseStatus.KEPT:
        assert ev.decided_on is not None
        assert paid_by(ev.decided_on) >= total - tol.allowed(total)
        assert ev.shortfall == 0
    elif ev.status in (PromiseStatus.BROKEN, PromiseStatus.PARTLY_KEPT):
        assert ev.decided_on is not None and ev.decided_on <= as_of
        assert ev.shortfall > 0
        assert (paid_by(ev.decided_on) > 0) == (ev.status is PromiseStatus.PARTLY_KEPT)
        assert paid_by(ev.decided_on) < total - tol.allowed(total)
    else:
        assert ev.status is PromiseStatus.OPEN
        assert as_of < last
        assert paid_by(as_of) < total - tol.allowed(total)
    later = evaluate_promise(
        promised, pays, as_of + timedelta(days=more), made_on=made, tolerance=tol
    )
    if ev.status is not PromiseStatus.OPEN:
        assert (later.status, later.decided_on) == (ev.status, ev.decided_on)
