"""Product settings and the enumerations of the ledger (loan-math.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "BANK_2023_CLASSIFICATION",
    "CREDIT_CARD_2011_CLASSIFICATION",
    "DEFAULT_BUCKET_EDGES",
    "DEFAULT_BUCKET_NAMES",
    "AllocationStep",
    "Bucket",
    "Classification",
    "ClassificationTable",
    "PaymentChannel",
    "ProductSettings",
    "RepaymentMethod",
]


class RepaymentMethod(StrEnum):
    ANNUITY = "annuity"
    EQUAL_PRINCIPAL = "equal_principal"
    INTEREST_ONLY = "interest_only"
    BULLET = "bullet"


class Classification(StrEnum):
    """五级分类, ordered from best to worst."""

    NORMAL = "normal"
    SPECIAL_MENTION = "special_mention"
    SUBSTANDARD = "substandard"
    DOUBTFUL = "doubtful"
    LOSS = "loss"

    @property
    def rank(self) -> int:
        return list(Classification).index(self)


class Bucket(StrEnum):
    M0 = "M0"
    M1 = "M1"
    M2 = "M2"
    M3 = "M3"
    M4 = "M4"
    M5 = "M5"
    M6 = "M6"
    M6_PLUS = "M6+"


class PaymentChannel(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    AUTO_DEBIT = "auto_debit"
    CARD = "card"
    CASH = "cash"
    WECHAT = "wechat"
    ALIPAY = "alipay"
    OTHER = "other"


class AllocationStep(StrEnum):
    FEES = "fees"
    PENALTY = "penalty"
    COMPOUND = "compound"
    INSTALLMENTS = "installments"


# A classification table: (max_dpd_inclusive, class) pairs, ascending; DPD above the last
# bound gets ``worst``.
@dataclass(frozen=True, slots=True)
class ClassificationTable:
    name: str
    bounds: tuple[tuple[int, Classification], ...]
    worst: Classification = Classification.LOSS

    def floor_for(self, dpd: int) -> Classification:
        for max_dpd, cls in self.bounds:
            if dpd <= max_dpd:
                return cls
        return self.worst


BANK_2023_CLASSIFICATION = ClassificationTable(
    "bank_2023",
    (
        (0, Classification.NORMAL),
        (90, Classification.SPECIAL_MENTION),
        (270, Classification.SUBSTANDARD),
        (360, Classification.DOUBTFUL),
    ),
)
CREDIT_CARD_2011_CLASSIFICATION = ClassificationTable(
    "credit_card_2011",
    (
        (0, Classification.NORMAL),
        (90, Classification.SPECIAL_MENTION),
        (120, Classification.SUBSTANDARD),
        (180, Classification.DOUBTFUL),
    ),
)

# Upper DPD bound (inclusive) of each bucket but the last; bucket i covers
# (edges[i-1], edges[i]].
DEFAULT_BUCKET_EDGES: tuple[int, ...] = (0, 30, 60, 90, 120, 150, 180)
DEFAULT_BUCKET_NAMES: tuple[str, ...] = tuple(b.value for b in Bucket)


@dataclass(frozen=True, slots=True)
class ProductSettings:
    """Named product parameters with the defaults of loan-math.md."""

    code: str = "default"
    penalty_markup: Decimal = Decimal("0.5")
    grace_days: int = 0
    day_count_basis: int = 360
    compound_on_overdue_interest: bool = True
    bucket_edges: tuple[int, ...] = DEFAULT_BUCKET_EDGES
    bucket_names: tuple[str, ...] = DEFAULT_BUCKET_NAMES
    classification: ClassificationTable = BANK_2023_CLASSIFICATION
    allocation_order: tuple[AllocationStep, ...] = field(
        default=(
            AllocationStep.FEES,
            AllocationStep.PENALTY,
            AllocationStep.COMPOUND,
            AllocationStep.INSTALLMENTS,
        )
    )
    timezone: str = "Asia/Shanghai"
    # A promise to pay counts as kept when the payments fall short of it by at most
    # max(promise_tolerance, promise_tolerance_pct % of the promised total).
    promise_tolerance: Decimal = Decimal("1.00")
    promise_tolerance_pct: Decimal = Decimal("0")

    def bucket_for(self, dpd: int) -> str:
        for edge, name in zip(self.bucket_edges, self.bucket_names, strict=False):
            if dpd <= edge:
                return name
        return self.bucket_names[-1]
