"""Authority limits and four eyes: may this role agree this plan, or must someone approve it?

Each role has :class:`RoleLimits`. A plan's concessions are measured by :func:`plan_measures`
(exact fractions, compared exactly):

- ``waiver_pct``: waived penalty + compound over the penalty + compound owed at the start
  (instalment, deferral and restructure plans);
- ``discount_pct``: the whole waiver over everything owed at the start (settlements);
- ``term_months``: the new term of a restructure; otherwise the whole months from the start
  to the last plan instalment;
- ``deferral_months``: the payment holiday of a deferral.

:func:`check_authority` lists every limit the plan exceeds for a role (each a reason code
with English text); ``needs_approval`` is true when there is any. :func:`check_approval` adds
the four-eyes rule: the approver must be another person, and the plan within the approver's
limits. :func:`approver_roles` names the roles whose limits cover a plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from arrears.domain.money import round2_fraction
from arrears.domain.negotiation.plans import PlanKind, PlanTerms

__all__ = [
    "AuthorityDecision",
    "PlanMeasures",
    "Reason",
    "RoleLimits",
    "approver_roles",
    "check_approval",
    "check_authority",
    "percent_text",
    "plan_measures",
]


@dataclass(frozen=True, slots=True)
class Reason:
    """A reason code (stable, for translation and filters) and its English text."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class RoleLimits:
    role: str
    max_waiver_pct: Decimal = Decimal(0)  # share of penalty + compound, 0..1
    max_settlement_discount_pct: Decimal = Decimal(0)  # share of everything owed, 0..1
    max_term_months: int = 12
    max_deferral_months: int = 0
    may_restructure: bool = False


@dataclass(frozen=True, slots=True)
class PlanMeasures:
    kind: PlanKind
    waiver_pct: Fraction
    discount_pct: Fraction
    term_months: int
    deferral_months: int


@dataclass(frozen=True, slots=True)
class AuthorityDecision:
    role: str
    needs_approval: bool
    reasons: tuple[Reason, ...]
    measures: PlanMeasures


def plan_measures(terms: PlanTerms) -> PlanMeasures:
    term = terms.restructure.term_months if terms.restructure else terms.plan_months
    return PlanMeasures(
        kind=terms.kind,
        waiver_pct=terms.waiver_pct_of_accruals,
        discount_pct=terms.discount_pct,
        term_months=term,
        deferral_months=terms.deferral_months,
    )


def percent_text(x: Fraction | Decimal) -> str:
    """``x`` (a share, 0.125) as English text with two decimals (``12.50 %``)."""
    return f"{round2_fraction(Fraction(x) * 100)} %"


def check_authority(terms: PlanTerms, limits: RoleLimits) -> AuthorityDecision:
    m = plan_measures(terms)
    reasons: list[Reason] = []
    if m.kind is PlanKind.SETTLEMENT:
        if m.discount_pct > Fraction(limits.max_settlement_discount_pct):
            reasons.append(
                Reason(
                    "DISCOUNT_ABOVE_LIMIT",
                    f"settlement discount {percent_text(m.discount_pct)} is above the "
                    f"{limits.role} limit of {percent_text(limits.max_settlement_discount_pct)}",
                )
            )
    elif m.waiver_pct > Fraction(limits.max_waiver_pct):
        reasons.append(
            Reason(
                "WAIVER_ABOVE_LIMIT",
                f"waiver of {percent_text(m.waiver_pct)} of penalty and compound interest is above "
                f"the {limits.role} limit of {percent_text(limits.max_waiver_pct)}",
            )
        )
    if m.term_months > limits.max_term_months:
        reasons.append(
            Reason(
                "TERM_ABOVE_LIMIT",
                f"term of {m.term_months} months is above the {limits.role} limit of "
                f"{limits.max_term_months} months",
            )
        )
    if m.deferral_months > limits.max_deferral_months:
        reasons.append(
            Reason(
                "DEFERRAL_ABOVE_LIMIT",
                f"payment holiday of {m.deferral_months} months is above the {limits.role} "
                f"limit of {limits.max_deferral_months} months",
            )
        )
    if m.kind is PlanKind.RESTRUCTURE and not limits.may_restructure:
        reasons.append(
            Reason("RESTRUCTURE_NOT_ALLOWED", f"a {limits.role} may not agree a restructure")
        )
    return AuthorityDecision(limits.role, bool(reasons), tuple(reasons), m)


def check_approval(
    terms: PlanTerms, proposer_id: str, approver_id: str, approver_limits: RoleLimits
) -> AuthorityDecision:
    """May ``approver_id`` (with ``approver_limits``) approve the plan ``proposer_id`` made?

    ``needs_approval`` false means the approval is valid.
    """
    decision = check_authority(terms, approver_limits)
    reasons = list(decision.reasons)
    if proposer_id == approver_id:
        reasons.insert(0, Reason("SAME_PERSON", "four eyes: the approver must not be the proposer"))
    return AuthorityDecision(approver_limits.role, bool(reasons), tuple(reasons), decision.measures)


def approver_roles(terms: PlanTerms, roles: Sequence[RoleLimits]) -> tuple[str, ...]:
    """The roles (in the given order) whose limits cover the plan."""
    return tuple(r.role for r in roles if not check_authority(terms, r).needs_approval)
