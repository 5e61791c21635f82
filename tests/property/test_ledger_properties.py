"""Properties of schedules and the scalar ledger (loan-math.md, docs/ledger.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.errors import LedgerError
from arrears.domain.ledger import LedgerState, compute_status, compute_statuses
from arrears.domain.loans import Installment, LoanTerms, Payment
from arrears.domain.money import from_minor, round2_fraction, to_minor
from arrears.domain.products import ProductSettings, RepaymentMethod
from arrears.domain.schedules import check_schedule, generate_schedule, schedule_for

SETTINGS = settings(max_examples=200, deadline=None)
FEW = settings(max_examples=60, deadline=None)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Book:
    loan: LoanTerms
    schedule: tuple[Installment, ...]
    payments: list[Payment]
    product: ProductSettings
    end: date  # a little after the last due date


@st.composite
def loans(draw: st.DrawFn, max_term: int = 12) -> LoanTerms:
    principal = from_minor(draw(st.integers(100_00, 1_000_000_00)))
    rate = Decimal(draw(st.integers(0, 3600))).scaleb(-4)
    term = draw(st.integers(1, max_term))
    start = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    method = draw(st.sampled_from(list(RepaymentMethod)))
    return LoanTerms("L", principal, rate, term, start, method, "B")


@st.composite
def books(draw: st.DrawFn, max_payments: int = 8) -> Book:
    loan = draw(loans())
    sched = schedule_for(loan)
    product = ProductSettings(
        grace_days=draw(st.integers(0, 5)),
        compound_on_overdue_interest=draw(st.booleans()),
        penalty_markup=Decimal(draw(st.sampled_from([0, 3, 5, 10]))).scaleb(-1),
    )
    end = sched[-1].due_date + timedelta(days=40)
    horizon = (end - loan.start_date).days
    top = 2 * to_minor(max(i.amount for i in sched))
    payments = [
        Payment(
            f"p{k}",
            loan.start_date + timedelta(days=draw(st.integers(-5, horizon))),
            from_minor(draw(st.integers(1, top))),
        )
        for k in range(draw(st.integers(0, max_payments)))
    ]
    return Book(loan, sched, payments, product, end)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def statuses(book: Book, dates: list[date], payments: list[Payment] | None = None) -> list[object]:
    pays = book.payments if payments is None else payments
    return list(compute_statuses(book.loan, book.schedule, pays, dates, book.product))


# -- schedules ---------------------------------------------------------------------------------


@SETTINGS
@given(loans(max_term=60))
def test_schedule_principal_sums_to_the_loan(loan: LoanTerms) -> None:
    sched = generate_schedule(
        loan.principal, loan.annual_rate, loan.term_months, loan.start_date, loan.method
    )
    assert sum(i.principal for i in sched) == loan.principal
    assert all(i.principal >= 0 and i.interest >= 0 for i in sched)
    assert [i.seq for i in sched] == list(range(1, len(sched) + 1))
    check_schedule(loan, sched)


@SETTINGS
@given(
    st.integers(1, 1_000_000_00),
    st.integers(0, 3600),
    st.integers(1, 360),
    st.sampled_from(list(RepaymentMethod)),
)
def test_long_or_tiny_schedules_sum_or_are_refused(
    cents: int, rate_bp: int, term: int, method: RepaymentMethod
) -> None:
    principal = from_minor(cents)
    message = ""
    try:
        sched = generate_schedule(
            principal, Decimal(rate_bp).scaleb(-4), term, date(2026, 1, 31), method
        )
    except LedgerError as exc:
        message = str(exc)
    if message:
        assert "negative principal" in message
        return
    assert sum(i.principal for i in sched) == principal
    assert all(i.principal >= 0 for i in sched)


# -- ledger ------------------------------------------------------------------------------------


@SETTINGS
@given(books(), st.integers(-10, 500))
def test_every_payment_is_accounted_for(book: Book, offset: int) -> None:
    as_of = book.loan.start_date + timedelta(days=offset)
    state = LedgerState(book.loan, book.schedule, book.payments, book.product)
    status = state.status(as_of)
    b = state.breakdown()
    paid = sum((p.amount for p in book.payments if p.paid_on <= as_of), Decimal(0))
    assert b.received == paid
    parts = (b.fees_paid, b.penalty_paid, b.compound_paid, b.applied_to_installments)
    assert sum(parts) + b.credit_balance == paid
    assert min(*parts, b.credit_balance) >= 0
    assert status.credit_balance == b.credit_balance


@FEW
@given(loans(), st.integers(0, 5))
def test_paid_exactly_on_schedule_is_always_current(loan: LoanTerms, grace: int) -> None:
    sched = schedule_for(loan)
    payments = [Payment(f"p{i.seq}", i.due_date, i.amount) for i in sched]
    product = ProductSettings(grace_days=grace)
    last = sched[-1].due_date
    dates = days(loan.start_date - 3 * DAY, last + 30 * DAY)
    for st_ in compute_statuses(loan, sched, payments, dates, product):
        assert st_.dpd == 0
        assert st_.bucket == "M0"
        assert st_.classification == "normal"
        assert st_.total_due_now == 0
        assert st_.credit_balance == 0
        assert st_.paid_off == (st_.as_of >= last)


@FEW
@given(books())
def test_dpd_never_decreases_without_a_payment(book: Book) -> None:
    pay_days = {p.paid_on for p in book.payments}
    dates = days(book.loan.start_date, book.end)
    result = compute_statuses(book.loan, book.schedule, book.payments, dates, book.product)
    for prev, cur in pairwise(result):
        if cur.as_of in pay_days:
            continue
        assert cur.dpd >= prev.dpd
        if prev.dpd > 0:
            assert cur.dpd == prev.dpd + 1


@SETTINGS
@given(books(max_payments=5), st.data())
def test_splitting_a_days_payment_changes_nothing(book: Book, data: st.DataObject) -> None:
    if not book.payments:
        return
    idx = data.draw(st.integers(0, len(book.payments) - 1))
    target = book.payments[idx]
    cents = to_minor(target.amount)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, cents - 1)), max_size=4))))
    cuts = [c for c in cuts if 0 < c < cents]
    bounds = [0, *cuts, cents]
    parts = [
        Payment(f"{target.payment_id}.{j}", target.paid_on, from_minor(hi - lo))
        for j, (lo, hi) in enumerate(pairwise(bounds))
    ]
    split = [*book.payments[:idx], *parts, *book.payments[idx + 1 :]]
    dates = sorted({*(p.paid_on for p in book.payments), book.end, book.loan.start_date})
    assert statuses(book, dates, split) == statuses(book, dates)


@FEW
@given(books(), st.lists(st.integers(-10, 450), min_size=1, max_size=12))
def test_many_dates_equal_one_date_at_a_time(book: Book, offsets: list[int]) -> None:
    dates = sorted(book.loan.start_date + timedelta(days=k) for k in offsets)
    many = compute_statuses(book.loan, book.schedule, book.payments, dates, book.product)
    one = [compute_status(book.loan, book.schedule, book.payments, d, book.product) for d in dates]
    assert many == one


# -- against a plain day-by-day reading of the spec --------------------------------------------


@dataclass
class _Ref:
    """A day-by-day ledger with explicit per-installment payments (no cumulative S)."""

    book: Book
    paid: list[Decimal]
    credit: Decimal = Decimal(0)
    penalty: Fraction = Fraction(0)
    compound: Fraction = Fraction(0)

    def settle(self, rest: Decimal, accrued: Fraction) -> tuple[Decimal, Fraction]:
        owed = round2_fraction(accrued)
        pay = min(rest, owed)
        return rest - pay, (Fraction(0) if pay == owed else accrued - Fraction(pay))

    def run_day(self, d: date, prov: dict[int, list[Fraction]]) -> None:
        product, sched = self.book.product, self.book.schedule
        for p in self.book.payments:
            if p.paid_on == d:
                rest, self.penalty = self.settle(p.amount, self.penalty)
                rest, self.compound = self.settle(rest, self.compound)
                self.credit += rest
        for k, inst in enumerate(sched):  # credit pays what is due, oldest first
            if inst.due_date <= d:
                take = min(self.credit, inst.amount - self.paid[k])
                self.paid[k] += take
                self.credit -= take
        markup = product.penalty_markup
        rate = Fraction(self.book.loan.annual_rate) * (1 + Fraction(markup)) / 360
        for k, inst in enumerate(sched):
            if inst.due_date >= d:
                continue
            unpaid_i = max(Decimal(0), inst.interest - self.paid[k])
            unpaid_p = inst.amount - self.paid[k] - unpaid_i
            pen = Fraction(unpaid_p) * rate
            comp = Fraction(unpaid_i) * rate if product.compound_on_overdue_interest else 0
            if d <= inst.due_date + timedelta(days=product.grace_days):
                prov.setdefault(k, [Fraction(0), Fraction(0)])
                prov[k][0] += pen
                prov[k][1] += comp
            else:
                self.penalty += pen
                self.compound += comp
        for k, inst in enumerate(sched):
            if product.grace_days and inst.due_date + timedelta(days=product.grace_days) == d:
                pen_comp = prov.pop(k, [Fraction(0), Fraction(0)])
                if self.paid[k] < inst.amount:
                    self.penalty += pen_comp[0]
                    self.compound += pen_comp[1]


@FEW
@given(books())
def test_matches_a_day_by_day_reference(book: Book) -> None:
    ref = _Ref(book, [Decimal(0)] * len(book.schedule))
    prov: dict[int, list[Fraction]] = {}
    first = min([book.loan.start_date, *(p.paid_on for p in book.payments)])
    dates = days(first, book.end)
    result = compute_statuses(book.loan, book.schedule, book.payments, dates, book.product)
    for d, got in zip(dates, result, strict=True):
        ref.run_day(d, prov)
        overdue = [k for k, i in enumerate(book.schedule) if i.due_date < d]
        unpaid = [k for k in overdue if ref.paid[k] < book.schedule[k].amount]
        dpd = (d - book.schedule[unpaid[0]].due_date).days if unpaid else 0
        owed = sum((book.schedule[k].amount - ref.paid[k] for k in overdue), Decimal(0))
        assert got.dpd == dpd
        assert got.overdue_principal + got.overdue_interest == owed
        assert got.accrued_penalty == round2_fraction(ref.penalty)
        assert got.accrued_compound == round2_fraction(ref.compound)
        assert got.credit_balance == ref.credit
