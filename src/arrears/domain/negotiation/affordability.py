"""Affordability: which plans the borrower can pay, within policy, and why the others are out.

Disposable income per month (docs/negotiation.md, "Affordability")::

    living_costs = max(essential_costs, living_allowance_per_member × household_size)
    disposable   = income − rent − other_debt_payments − living_costs

(negative means the borrower cannot pay anything from income; it is reported as it is and
treated as 0 for capacity). ``lump_sum_available`` is money the borrower can pay now.

A plan is *affordable* when

- its payment due on the start day ``D`` (a down payment, a first settlement payment) is at
  most ``lump_sum_available + disposable``;
- every other plan instalment, and every contractual installment left after the plan
  (``after_plan``), is at most ``disposable``;

and *within policy* when every plan instalment but the last (and but a payment due on ``D``)
is at least ``min_instalment``,
the plan's months are at most ``max_term_months`` (restructures: ``restructure_max_term``),
and the waiver / discount are within ``max_waiver_pct`` / ``max_settlement_discount``.

:func:`propose_plans` searches each kind for the least generous affordable plan — no waiver
before the maximum waiver, the shortest term, the smallest discount — and returns one
:class:`PlanOption` per kind: with terms when one fits, else with the reasons (code + English
text) why none does. Options carry the recovery comparison and, given the proposer's
:class:`RoleLimits`, whether the plan needs an approver.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.money import ZERO
from arrears.domain.negotiation.authority import (
    AuthorityDecision,
    Reason,
    RoleLimits,
    check_authority,
    percent_text,
)
from arrears.domain.negotiation.plans import (
    PlanKind,
    PlanTerms,
    deferral_plan,
    floor_cents,
    instalment_plan,
    restructure_plan,
    settlement_plan,
    waiver_of,
)
from arrears.domain.negotiation.recovery import RecoveryComparison, RecoveryTable, compare_recovery
from arrears.domain.negotiation.snapshot import AccountSnapshot, Components
from arrears.domain.products import RepaymentMethod

__all__ = [
    "AffordabilityPolicy",
    "IncomeExpenditure",
    "PlanOption",
    "Proposal",
    "affordability_reasons",
    "disposable_income",
    "propose_plans",
]


@dataclass(frozen=True, slots=True)
class IncomeExpenditure:
    """The borrower's monthly income and expenditure form."""

    monthly_income: Decimal
    household_size: int
    rent: Decimal = ZERO
    other_debt_payments: Decimal = ZERO
    essential_costs: Decimal = ZERO
    lump_sum_available: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class AffordabilityPolicy:
    """The lender's negotiation policy (per product or portfolio)."""

    living_allowance_per_member: Decimal = ZERO
    max_term_months: int = 24
    min_instalment: Decimal = ZERO
    max_waiver_pct: Decimal = ZERO  # share of penalty + compound, 0..1
    max_settlement_discount: Decimal = ZERO  # share of everything owed, 0..1
    max_settlement_payments: int = 3
    deferral_months: int = 0  # 0: no deferral offered
    restructure_max_term: int = 0  # 0: no restructure offered
    restructure_rate: Decimal | None = None  # None: the loan's rate
    restructure_method: RepaymentMethod = RepaymentMethod.ANNUITY
    grace_days: int | None = None  # None: the product's


@dataclass(frozen=True, slots=True)
class PlanOption:
    kind: PlanKind
    terms: PlanTerms | None  # None when no plan of this kind fits
    reasons: tuple[Reason, ...]  # why none fits (empty when terms is set)
    largest_monthly: Decimal  # largest payment from income (0.00 when terms is None)
    recovery: RecoveryComparison | None
    authority: AuthorityDecision | None  # for the proposer's role, if given

    @property
    def available(self) -> bool:
        return self.terms is not None


@dataclass(frozen=True, slots=True)
class Proposal:
    disposable: Decimal
    options: tuple[PlanOption, ...]

    @property
    def affordable(self) -> tuple[PlanOption, ...]:
        return tuple(o for o in self.options if o.available)


def _check(ie: IncomeExpenditure, policy: AffordabilityPolicy) -> None:
    issues: list[Issue] = []
    issues += [
        Issue("income_expenditure", None, name, "must not be negative")
        for name in ("monthly_income", "rent", "other_debt_payments", "essential_costs")
        if getattr(ie, name) < 0
    ]
    if ie.lump_sum_available < 0:
        issues.append(Issue("income_expenditure", None, "lump_sum_available", "negative"))
    if ie.household_size < 1:
        issues.append(Issue("income_expenditure", None, "household_size", "must be at least 1"))
    issues += [
        Issue("policy", None, name, "must be between 0 and 1")
        for name in ("max_waiver_pct", "max_settlement_discount")
        if not 0 <= getattr(policy, name) <= 1
    ]
    if policy.max_term_months < 1 or policy.max_settlement_payments < 1:
        issues.append(Issue("policy", None, "max_term_months", "terms must be at least 1"))
    if issues:
        raise ValidationError(issues)


def disposable_income(ie: IncomeExpenditure, policy: AffordabilityPolicy) -> Decimal:
    """Income less rent, other debt payments and living costs (may be negative)."""
    living = max(ie.essential_costs, policy.living_allowance_per_member * ie.household_size)
    return ie.monthly_income - ie.rent - ie.other_debt_payments - living


def affordability_reasons(
    terms: PlanTerms, disposable: Decimal, lump_sum: Decimal, policy: AffordabilityPolicy
) -> tuple[Reason, ...]:
    """Why ``terms`` is not affordable or not within the policy's minimum instalment."""
    capacity = max(disposable, ZERO)
    reasons: list[Reason] = []
    for inst in terms.instalments:
        limit = capacity + lump_sum if inst.due_date == terms.start else capacity
        if inst.amount > limit:
            what = "the payment due now" if inst.due_date == terms.start else "an instalment"
            reasons.append(
                Reason(
                    "UNAFFORDABLE",
                    f"{what} of {inst.amount} (due {inst.due_date}) is more than the "
                    f"{limit} the borrower can pay",
                )
            )
            break
    else:
        biggest = max((i.amount for i in terms.after_plan), default=ZERO)
        if biggest > capacity:
            reasons.append(
                Reason(
                    "CONTRACT_UNAFFORDABLE",
                    f"the contractual installments after the plan (up to {biggest}) are more "
                    f"than the disposable income {capacity}",
                )
            )
    for inst in terms.instalments[:-1]:
        if inst.due_date != terms.start and inst.amount < policy.min_instalment:
            reasons.append(
                Reason(
                    "BELOW_MIN_INSTALMENT",
                    f"an instalment of {inst.amount} is below the minimum instalment "
                    f"{policy.min_instalment}",
                )
            )
            break
    return tuple(reasons)


def _largest_monthly(terms: PlanTerms) -> Decimal:
    amounts = [i.amount for i in terms.instalments if i.due_date != terms.start]
    amounts += [i.amount for i in terms.after_plan]
    return max(amounts, default=ZERO)


def _search(
    build: Callable[[int, Components], PlanTerms],
    lengths: Sequence[int],
    waivers: Sequence[Components],
    disposable: Decimal,
    lump: Decimal,
    policy: AffordabilityPolicy,
) -> tuple[PlanTerms | None, tuple[Reason, ...]]:
    """The first plan (by waiver, then length) with no reasons against it."""
    seen: dict[str, Reason] = {}
    for waiver in waivers:
        for n in lengths:
            try:
                terms = build(n, waiver)
            except ValidationError as exc:
                reason = Reason("INVALID", "; ".join(i.reason for i in exc.issues))
                seen.setdefault(reason.code, reason)
                continue
            reasons = affordability_reasons(terms, disposable, lump, policy)
            if not reasons:
                return terms, ()
            for r in reasons:
                seen.setdefault(r.code, r)
    return None, tuple(seen.values())


def _settlement(
    snap: AccountSnapshot, disposable: Decimal, lump: Decimal, policy: AffordabilityPolicy
) -> tuple[PlanTerms | None, tuple[Reason, ...]]:
    owed = snap.total_owed
    capacity = max(disposable, ZERO)
    best: tuple[Decimal, int, list[Decimal]] | None = None
    for k in range(1, policy.max_settlement_payments + 1):
        amount = min(owed, lump + capacity * k)
        if amount <= 0:
            continue
        later = min(capacity, floor_cents(Fraction(amount) / k)) if k > 1 else ZERO
        first = amount - later * (k - 1)
        if (k > 1 and later <= 0) or first > lump + capacity:
            continue
        if best is None or amount > best[0]:
            best = (amount, k, [first] + [later] * (k - 1))
    if best is None:
        return None, (Reason("UNAFFORDABLE", "the borrower has no money to settle with"),)
    amount, k, split = best
    needed = Fraction(owed - amount) / Fraction(owed)
    if needed > Fraction(policy.max_settlement_discount):
        return None, (
            Reason(
                "DISCOUNT_ABOVE_POLICY",
                f"settling {owed} with what the borrower can pay ({amount} in {k} payments) "
                f"needs a discount of {percent_text(needed)}, above the policy maximum of "
                f"{percent_text(policy.max_settlement_discount)}",
            ),
        )
    terms = settlement_plan(snap, amount, payments=k, amounts=split, grace_days=policy.grace_days)
    return terms, ()


def propose_plans(
    snapshot: AccountSnapshot,
    ie: IncomeExpenditure,
    policy: AffordabilityPolicy,
    *,
    role: RoleLimits | None = None,
    recovery: RecoveryTable | None = None,
) -> Proposal:
    """One option per plan kind: the least generous plan the borrower can afford, or why not."""
    _check(ie, policy)
    disposable = disposable_income(ie, policy)
    lump = ie.lump_sum_available
    waivers = [Components()]
    if policy.max_waiver_pct > 0 and snapshot.penalty + snapshot.compound > 0:
        waivers.append(waiver_of(snapshot, policy.max_waiver_pct, policy.max_waiver_pct))
    grace = policy.grace_days
    found: dict[PlanKind, tuple[PlanTerms | None, tuple[Reason, ...]]] = {}

    # instalment plan for the amount due now, with any lump sum as a down payment
    if snapshot.total_due_now <= 0:
        found[PlanKind.INSTALMENT] = (None, (Reason("NOTHING_DUE", "nothing is due now"),))
    else:

        def instalment(n: int, w: Components) -> PlanTerms:
            down = min(lump, snapshot.total_due_now - w.total)
            return instalment_plan(snapshot, n, down_payment=down, waiver=w, grace_days=grace)

        found[PlanKind.INSTALMENT] = _search(
            instalment, range(1, policy.max_term_months + 1), waivers, disposable, lump, policy
        )

    # deferral: a payment holiday, then the amount due now spread
    m = policy.deferral_months
    if m <= 0:
        found[PlanKind.DEFERRAL] = (
            None,
            (Reason("NOT_OFFERED", "the policy offers no payment holiday"),),
        )
    elif m >= policy.max_term_months:
        found[PlanKind.DEFERRAL] = (
            None,
            (Reason("TERM_ABOVE_POLICY", "the payment holiday is as long as the maximum term"),),
        )
    else:

        def deferral(n: int, w: Components) -> PlanTerms:
            return deferral_plan(snapshot, m, spread_months=n, waiver=w, grace_days=grace)

        found[PlanKind.DEFERRAL] = _search(
            deferral, range(1, policy.max_term_months - m + 1), waivers, disposable, lump, policy
        )

    found[PlanKind.SETTLEMENT] = _settlement(snapshot, disposable, lump, policy)

    if policy.restructure_max_term <= 0:
        found[PlanKind.RESTRUCTURE] = (
            None,
            (Reason("NOT_OFFERED", "the policy offers no restructure"),),
        )
    elif snapshot.principal_outstanding <= 0:
        found[PlanKind.RESTRUCTURE] = (None, (Reason("NOTHING_DUE", "no principal is left"),))
    else:

        def restructure(n: int, w: Components) -> PlanTerms:
            return restructure_plan(
                snapshot,
                n,
                annual_rate=policy.restructure_rate,
                method=policy.restructure_method,
                waiver=w,
                grace_days=grace,
            )

        found[PlanKind.RESTRUCTURE] = _search(
            restructure,
            range(1, policy.restructure_max_term + 1),
            waivers,
            disposable,
            lump,
            policy,
        )

    options: list[PlanOption] = []
    for kind in PlanKind:
        terms, reasons = found[kind]
        if terms is None:
            options.append(PlanOption(kind, None, reasons, ZERO, None, None))
            continue
        options.append(
            PlanOption(
                kind=kind,
                terms=terms,
                reasons=(),
                largest_monthly=_largest_monthly(terms),
                recovery=compare_recovery(terms, snapshot, recovery),
                authority=check_authority(terms, role) if role is not None else None,
            )
        )
    return Proposal(disposable=disposable, options=tuple(options))
