"""A realistic synthetic loan book in the interchange format (interchange.md), for demos.

``write_demo_book`` writes borrowers, contacts, loans, installments and payments of a
Chinese bank's quick-loan product ("kuaidai"), with 18 months of history before ``as_of``.
Each loan follows one behaviour profile (on time, late, partial, rolling into default,
cured, prepaying). Output is a pure function of the arguments: one ``random.Random(seed)``
drives everything and the date comes in as ``as_of``; the same call writes the same bytes.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from arrears.domain.loans import Installment, LoanTerms
from arrears.domain.products import PaymentChannel, RepaymentMethod
from arrears.domain.schedules import generate_schedule
from arrears.services import demo_people as people
from arrears.services.demo_people import words as _words

__all__ = ["BehaviourProfile", "DemoBookSummary", "write_demo_book"]

_T = TypeVar("_T")

HISTORY_DAYS = 548  # loans start within the 18 months before as_of
CONSUMER_PRODUCT = "kuaidai"  # 快贷: consumer, amortising
SME_PRODUCT = "kuaidai_sme"  # 小微快贷: small business, interest-only or bullet


class BehaviourProfile(StrEnum):
    ON_TIME = "on_time"
    A_FEW_DAYS_LATE = "a_few_days_late"
    PARTIAL = "partial"
    ROLLING_INTO_DEFAULT = "rolling_into_default"
    CURED = "cured"
    PREPAYING = "prepaying"


PROFILE_WEIGHTS: Mapping[BehaviourProfile, float] = {
    BehaviourProfile.ON_TIME: 0.55,
    BehaviourProfile.A_FEW_DAYS_LATE: 0.15,
    BehaviourProfile.PARTIAL: 0.08,
    BehaviourProfile.ROLLING_INTO_DEFAULT: 0.08,
    BehaviourProfile.CURED: 0.07,
    BehaviourProfile.PREPAYING: 0.07,
}
_METHOD_WEIGHTS: Mapping[RepaymentMethod, float] = {
    RepaymentMethod.ANNUITY: 0.55,
    RepaymentMethod.EQUAL_PRINCIPAL: 0.20,
    RepaymentMethod.INTEREST_ONLY: 0.13,
    RepaymentMethod.BULLET: 0.12,
}
_TERMS: Mapping[RepaymentMethod, Mapping[int, float]] = {
    RepaymentMethod.ANNUITY: {3: 10, 6: 15, 9: 2, 12: 38, 18: 3, 24: 18, 36: 14},
    RepaymentMethod.EQUAL_PRINCIPAL: {3: 10, 6: 15, 9: 2, 12: 38, 18: 3, 24: 18, 36: 14},
    RepaymentMethod.INTEREST_ONLY: {3: 10, 6: 20, 12: 50, 24: 15, 36: 5},
    RepaymentMethod.BULLET: {3: 30, 6: 35, 9: 5, 12: 30},
}
_QUOTED_RATES = tuple(  # annual rates banks quote, in basis points
    Decimal(bp).scaleb(-4)
    for bp in (345, 365, 385, 395, 420, 435, 475, 490, 560, 600, 720, 888, 1080, 1200, 1440, 1800)
)
_CHANNEL_WEIGHTS: Mapping[PaymentChannel, float] = {
    PaymentChannel.AUTO_DEBIT: 45,
    PaymentChannel.WECHAT: 15,
    PaymentChannel.ALIPAY: 15,
    PaymentChannel.CARD: 10,
    PaymentChannel.BANK_TRANSFER: 10,
    PaymentChannel.CASH: 3,
    PaymentChannel.OTHER: 2,
}
_HUMAN_CHANNELS = tuple(c for c in _CHANNEL_WEIGHTS if c is not PaymentChannel.AUTO_DEBIT)
_HOUR_WEIGHTS = (2, 4, 6, 6, 7, 9, 7, 6, 6, 6, 6, 7, 8, 9, 10, 9, 5)  # 07:00 .. 23:00
_FIELDS: Mapping[str, tuple[str, ...]] = {
    "borrowers": _words(
        "borrower_id name id_number phone email address city country latitude longitude "
        "employer monthly_income"
    ),
    "contacts": _words("contact_id borrower_id name relation phone"),
    "loans": _words(
        "loan_id borrower_id product currency principal annual_rate term_months start_date "
        "repayment_method"
    ),
    "installments": _words("loan_id seq due_date principal interest"),
    "payments": _words("payment_id loan_id paid_at amount channel"),
}


@dataclass(frozen=True, slots=True)
class DemoBookSummary:
    folder: Path
    borrowers: int
    contacts: int
    loans: int
    installments: int
    payments: int
    profiles: Mapping[str, int]  # loans per behaviour profile
    methods: Mapping[str, int]  # loans per repayment method
    loan_profiles: Mapping[str, str]  # loan_id -> behaviour profile

    def describe(self) -> str:
        profiles = ", ".join(f"{k} {v}" for k, v in sorted(self.profiles.items()))
        methods = ", ".join(f"{k} {v}" for k, v in sorted(self.methods.items()))
        return (
            f"{self.borrowers} borrowers, {self.contacts} contacts, {self.loans} loans, "
            f"{self.installments} installments, {self.payments} payments\n"
            f"    behaviour: {profiles}\n    methods: {methods}"
        )


@dataclass(slots=True)
class _Book:
    rows: dict[str, list[list[str]]] = field(default_factory=lambda: {k: [] for k in _FIELDS})
    profiles: dict[str, str] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Draft:
    """A payment before it gets an id and a time of day."""

    paid_on: date
    amount: Decimal
    channel: PaymentChannel


def write_demo_book(
    folder: Path, borrowers: int = 5000, seed: int = 1, *, as_of: date
) -> DemoBookSummary:
    """Write a synthetic book of ``borrowers`` borrowers into ``folder`` (created if needed)."""
    if borrowers < 1:
        raise ValueError(f"borrowers must be at least 1, got {borrowers}")
    rng = random.Random(seed)
    book = _Book()
    for n in range(1, borrowers + 1):
        _add_borrower(rng, book, f"C{n:08d}", as_of)
    folder.mkdir(parents=True, exist_ok=True)
    for name, header in _FIELDS.items():
        with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(book.rows[name])
    loans = book.rows["loans"]
    return DemoBookSummary(
        folder=folder,
        borrowers=borrowers,
        contacts=len(book.rows["contacts"]),
        loans=len(loans),
        installments=len(book.rows["installments"]),
        payments=len(book.rows["payments"]),
        profiles=_counts(book.profiles.values(), [p.value for p in BehaviourProfile]),
        methods=_counts((row[8] for row in loans), [m.value for m in RepaymentMethod]),
        loan_profiles=dict(book.profiles),
    )


def _counts(values: Iterable[str], keys: Sequence[str]) -> dict[str, int]:
    counter = Counter(values)
    return {k: counter[k] for k in keys}


def _weighted(rng: random.Random, weights: Mapping[_T, float]) -> _T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _money(x: Decimal) -> str:
    return f"{x:.2f}"


# --- borrowers --------------------------------------------------------------------------


def _add_borrower(rng: random.Random, book: _Book, borrower_id: str, as_of: date) -> None:
    city = people.pick_city(rng)
    district = rng.choice(city.districts)
    person = people.make_person(rng, city, district)
    address, lat, lon = people.random_address(rng, city, district)
    income = Decimal(round(rng.lognormvariate(0, 0.5) * city.median_income, -2))
    phone = people.random_mobile(rng, book.phones)
    email = people.random_email(rng, person) if rng.random() < 0.55 else ""
    employer = people.random_employer(rng, city, district, person.surname[0])
    # fmt: off
    book.rows["borrowers"].append([
        borrower_id, person.name, person.id_number, phone, email, address, city.name, "CN",
        f"{lat:.6f}", f"{lon:.6f}", employer, _money(max(income, Decimal(2500))),
    ])
    # fmt: on
    channel = _weighted(rng, _CHANNEL_WEIGHTS)
    total = Decimal(0)
    for _ in range(2 if rng.random() < 0.22 else 1):
        total += _add_loan(rng, book, borrower_id, channel, as_of)
    for relation, name in people.random_contacts(rng, person, as_of, guarantor=total > 100_000):
        contact_id = f"CT{len(book.rows['contacts']) + 1:08d}"
        phone = people.random_mobile(rng, book.phones)
        book.rows["contacts"].append([contact_id, borrower_id, name, relation, phone])


# --- loans --------------------------------------------------------------------------------


def _add_loan(
    rng: random.Random, book: _Book, borrower_id: str, channel: PaymentChannel, as_of: date
) -> Decimal:
    terms = _loan_terms(rng, book, borrower_id, as_of)
    schedule = generate_schedule(
        terms.principal, terms.annual_rate, terms.term_months, terms.start_date, terms.method
    )
    profile = _weighted(rng, PROFILE_WEIGHTS)
    book.profiles[terms.loan_id] = profile.value
    # fmt: off
    book.rows["loans"].append([
        terms.loan_id, borrower_id, terms.product, terms.currency, _money(terms.principal),
        str(terms.annual_rate), str(terms.term_months), terms.start_date.isoformat(),
        terms.method.value,
    ])
    # fmt: on
    book.rows["installments"].extend(
        [terms.loan_id, str(i.seq), i.due_date.isoformat(), _money(i.principal), _money(i.interest)]
        for i in schedule
    )
    sim = _Simulation(rng, schedule, terms.annual_rate, channel, as_of)
    drafts = sorted(_PROFILES[profile](sim), key=lambda d: d.paid_on)
    for d in drafts:
        if d.paid_on <= as_of and d.amount > 0:
            payment_id = f"PMT{len(book.rows['payments']) + 1:09d}"
            book.rows["payments"].append(
                [payment_id, terms.loan_id, _timestamp(rng, d), _money(d.amount), d.channel.value]
            )
    return terms.principal


def _loan_terms(rng: random.Random, book: _Book, borrower_id: str, as_of: date) -> LoanTerms:
    method = _weighted(rng, _METHOD_WEIGHTS)
    sme = method in (RepaymentMethod.INTEREST_ONLY, RepaymentMethod.BULLET)
    start = as_of - timedelta(days=rng.randint(1, HISTORY_DAYS))
    loan_id = f"KD{start:%Y%m%d}{len(book.rows['loans']) + 1:07d}"
    return LoanTerms(
        loan_id=loan_id,
        principal=_principal(rng, Decimal(50_000 if sme else 15_000)),
        annual_rate=_rate(rng),
        term_months=_weighted(rng, _TERMS[method]),
        start_date=start,
        method=method,
        borrower_id=borrower_id,
        product=SME_PRODUCT if sme else CONSUMER_PRODUCT,
    )


def _principal(rng: random.Random, median: Decimal) -> Decimal:
    raw = Decimal(rng.lognormvariate(0, 0.95)) * median
    raw = min(max(raw, Decimal(1000)), Decimal(300_000))
    r = rng.random()
    step = Decimal(1) if r < 0.05 else Decimal(100) if r < 0.35 or raw < 10_000 else Decimal(1000)
    return (raw / step).quantize(Decimal(1)) * step


def _rate(rng: random.Random) -> Decimal:
    if rng.random() < 0.5:
        return rng.choice(_QUOTED_RATES)
    low, high = rng.choices(((345, 600), (600, 1200), (1200, 1800)), (6, 3, 1))[0]
    return Decimal(rng.randint(low, high)).scaleb(-4)


def _timestamp(rng: random.Random, draft: _Draft) -> str:
    if draft.channel is PaymentChannel.AUTO_DEBIT:
        hour = rng.randint(1, 7)
    elif draft.channel in (PaymentChannel.CASH, PaymentChannel.BANK_TRANSFER):
        hour = rng.randint(9, 16)
    else:
        hour = rng.choices(range(7, 24), _HOUR_WEIGHTS)[0]
    minute, second = rng.randrange(60), rng.randrange(60)
    return f"{draft.paid_on.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}+08:00"


# --- behaviour profiles ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Simulation:
    rng: random.Random
    schedule: tuple[Installment, ...]
    rate: Decimal
    channel: PaymentChannel  # the borrower's usual channel
    as_of: date

    @property
    def due(self) -> tuple[Installment, ...]:
        return tuple(i for i in self.schedule if i.due_date <= self.as_of)

    def on_time(self, inst: Installment) -> _Draft:
        if self.channel is PaymentChannel.AUTO_DEBIT:
            return _Draft(inst.due_date, inst.amount, self.channel)
        early = self.rng.choice((0, 0, 0, 0, 1, 1, 2, 3))
        return _Draft(inst.due_date - timedelta(days=early), inst.amount, self.channel)

    def late(self, inst: Installment, days: int) -> _Draft:
        amount = _ceil(inst.amount + self.penalty(inst.amount, days), 1)
        return _Draft(inst.due_date + timedelta(days=days), amount, self.late_channel())

    def late_channel(self) -> PaymentChannel:
        """A failed auto-debit is usually paid by hand; a retry sometimes succeeds."""
        if self.channel is PaymentChannel.AUTO_DEBIT and self.rng.random() < 0.7:
            return self.rng.choice(_HUMAN_CHANNELS)
        return self.channel

    def penalty(self, amount: Decimal, days: int) -> Decimal:
        """A borrower's estimate of penalty interest (default markup 0.5, ACT/360)."""
        return amount * self.rate * Decimal("1.5") * days / 360


def _ceil(x: Decimal, step: int) -> Decimal:
    return (x / step).quantize(Decimal(1), rounding=ROUND_CEILING) * step


def _on_time(sim: _Simulation) -> list[_Draft]:
    return [sim.on_time(i) for i in sim.schedule]


def _a_few_days_late(sim: _Simulation) -> list[_Draft]:
    rng = sim.rng
    return [
        sim.on_time(i)
        if rng.random() < 0.4
        else sim.late(i, rng.choices(range(1, 11), (10, 9, 8, 7, 6, 5, 4, 3, 2, 2))[0])
        for i in sim.schedule
    ]


def _partial(sim: _Simulation) -> list[_Draft]:
    rng, out = sim.rng, []
    for inst in sim.schedule:
        r = rng.random()
        if r < 0.12:
            continue
        if r < 0.30:
            out.append(sim.late(inst, rng.randint(0, 10)))
            continue
        share = Decimal(rng.randint(40, 90)) / 100
        amount = (inst.amount * share / 10).quantize(Decimal(1), rounding=ROUND_FLOOR) * 10
        paid_on = inst.due_date + timedelta(days=rng.randint(0, 6))
        out.append(_Draft(paid_on, max(amount, Decimal(1)), sim.late_channel()))
    return out


def _rolling_into_default(sim: _Simulation) -> list[_Draft]:
    rng, due = sim.rng, sim.due
    if not due:
        return []
    paid = rng.randint(0, len(due) - 1)
    out = [sim.on_time(i) for i in due[: max(paid - 2, 0)]]
    out += [sim.late(i, rng.randint(2, 15)) for i in due[max(paid - 2, 0) : paid]]
    missed = due[paid]
    if rng.random() < 0.35:  # a token payment after the first reminder calls
        token = min(Decimal(rng.choice((100, 200, 300, 500))), _ceil(missed.amount / 2, 1))
        out.append(
            _Draft(missed.due_date + timedelta(days=rng.randint(5, 40)), token, sim.late_channel())
        )
    return out


def _cured(sim: _Simulation) -> list[_Draft]:
    rng, due = sim.rng, sim.due
    for missed in (rng.choices((1, 2, 3), (20, 45, 35))[0], 2, 1):
        feasible = [
            s
            for s in range(len(due) - missed + 1)
            if (sim.as_of - due[s + missed - 1].due_date).days >= 3
        ]
        if feasible:
            break
    else:
        return []
    first = rng.choice(feasible)
    last = due[first + missed - 1]
    cured_on = last.due_date + timedelta(
        days=rng.randint(3, min(25, (sim.as_of - last.due_date).days))
    )
    lump = sum(
        (
            i.amount + sim.penalty(i.amount, (cured_on - i.due_date).days) * 2
            for i in due[first : first + missed]
        ),
        Decimal(0),
    )
    channel = rng.choice((PaymentChannel.BANK_TRANSFER, PaymentChannel.CASH, sim.late_channel()))
    out = [sim.on_time(i) for i in sim.schedule[:first]]
    out.append(_Draft(cured_on, _ceil(lump, 100), channel))
    return out + [sim.on_time(i) for i in sim.schedule[first + missed :]]


def _prepaying(sim: _Simulation) -> list[_Draft]:
    rng, schedule = sim.rng, sim.schedule
    payoff_after = (
        rng.randint(1, len(schedule) - 1) if len(schedule) > 1 and rng.random() < 0.45 else None
    )
    out: list[_Draft] = []
    credit = Decimal(0)
    for k, inst in enumerate(schedule, start=1):
        paid_on = inst.due_date - timedelta(days=rng.randint(3, 15))
        amount = (
            inst.amount
            if rng.random() < 0.5
            else _ceil(inst.amount * Decimal(rng.uniform(1.1, 1.5)), 100)
        )
        if len(schedule) == 1 and rng.random() < 0.5:  # a bullet loan paid down in two parts
            part = _ceil(inst.amount * Decimal(rng.uniform(0.3, 0.6)), 1000)
            out.append(_Draft(paid_on - timedelta(days=rng.randint(20, 40)), part, sim.channel))
            amount = max(inst.amount - part, Decimal(1))
        out.append(_Draft(paid_on, amount, sim.channel))
        credit += amount - inst.amount
        if k == payoff_after:
            rest = sum((i.amount for i in schedule[k:]), Decimal(0)) - credit
            if rest > 0:
                out.append(_Draft(paid_on + timedelta(days=rng.randint(1, 20)), rest, sim.channel))
            break
    return out


_PROFILES = {
    BehaviourProfile.ON_TIME: _on_time,
    BehaviourProfile.A_FEW_DAYS_LATE: _a_few_days_late,
    BehaviourProfile.PARTIAL: _partial,
    BehaviourProfile.ROLLING_INTO_DEFAULT: _rolling_into_default,
    BehaviourProfile.CURED: _cured,
    BehaviourProfile.PREPAYING: _prepaying,
}
