"""Expected recovery: what a plan brings in versus what the account would bring otherwise.

A deliberately simple, documented estimate until the early-warning models exist
(docs/negotiation.md, "Recovery estimate"):

- *expected recovery otherwise* = ``round2(total owed at D × rate(bucket at D))``, with a
  recovery rate per DPD bucket from a :class:`RecoveryTable` (a lender setting; the defaults
  are placeholders to be calibrated on the lender's own history);
- *recovers if kept* = everything the plan and the rest of the contract ask for
  (:attr:`PlanTerms.total_if_kept`), undiscounted (no time value of money in v1);
- *expected with the plan* = ``round2(recovers_if_kept × keep_rate + expected_otherwise ×
  (1 − keep_rate) × broken_share)``, where ``keep_rate`` is the table's probability that a plan
  is kept and ``broken_share`` the part of the otherwise-recovery still expected after a broken
  plan. Both are settings; ``keep_rate = 1`` reduces it to "recovers if kept".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

from arrears.domain.money import round2_fraction
from arrears.domain.negotiation.plans import PlanTerms
from arrears.domain.negotiation.snapshot import AccountSnapshot

__all__ = [
    "DEFAULT_RECOVERY_RATES",
    "RecoveryComparison",
    "RecoveryTable",
    "compare_recovery",
    "expected_recovery_otherwise",
]

DEFAULT_RECOVERY_RATES: Mapping[str, Decimal] = MappingProxyType(
    {
        "M0": Decimal("0.97"),
        "M1": Decimal("0.85"),
        "M2": Decimal("0.65"),
        "M3": Decimal("0.50"),
        "M4": Decimal("0.40"),
        "M5": Decimal("0.32"),
        "M6": Decimal("0.25"),
        "M6+": Decimal("0.15"),
    }
)


@dataclass(frozen=True, slots=True)
class RecoveryTable:
    rates: Mapping[str, Decimal] = field(default_factory=lambda: DEFAULT_RECOVERY_RATES)
    default_rate: Decimal = Decimal("0.15")  # for a bucket name not in ``rates``
    keep_rate: Decimal = Decimal("0.6")
    broken_share: Decimal = Decimal("0.8")

    def rate(self, bucket: str) -> Decimal:
        return self.rates.get(bucket, self.default_rate)


@dataclass(frozen=True, slots=True)
class RecoveryComparison:
    recovers_if_kept: Decimal
    expected_otherwise: Decimal
    expected_with_plan: Decimal
    gain_if_kept: Decimal  # recovers_if_kept − expected_otherwise
    expected_gain: Decimal  # expected_with_plan − expected_otherwise


def expected_recovery_otherwise(snapshot: AccountSnapshot, table: RecoveryTable) -> Decimal:
    rate = table.rate(snapshot.status.bucket)
    return round2_fraction(Fraction(snapshot.total_owed) * Fraction(rate))


def compare_recovery(
    terms: PlanTerms, snapshot: AccountSnapshot, table: RecoveryTable | None = None
) -> RecoveryComparison:
    t = table or RecoveryTable()
    otherwise = expected_recovery_otherwise(snapshot, t)
    kept = terms.total_if_kept
    keep = Fraction(t.keep_rate)
    with_plan = round2_fraction(
        Fraction(kept) * keep + Fraction(otherwise) * (1 - keep) * Fraction(t.broken_share)
    )
    return RecoveryComparison(
        recovers_if_kept=kept,
        expected_otherwise=otherwise,
        expected_with_plan=with_plan,
        gain_if_kept=kept - otherwise,
        expected_gain=with_plan - otherwise,
    )
