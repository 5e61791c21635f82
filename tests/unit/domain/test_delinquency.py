"""Buckets and classification floors at every edge (loan-math.md)."""

from __future__ import annotations

import pytest

from arrears.domain.delinquency import apply_restructure_floor, bucket_for, classification_floor
from arrears.domain.products import (
    CREDIT_CARD_2011_CLASSIFICATION,
    Classification,
    ProductSettings,
)

C = Classification
BANK = ProductSettings()
CARD = ProductSettings(code="card", classification=CREDIT_CARD_2011_CLASSIFICATION)


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "M0"),
        (1, "M1"),
        (30, "M1"),
        (31, "M2"),
        (60, "M2"),
        (61, "M3"),
        (90, "M3"),
        (91, "M4"),
        (120, "M4"),
        (121, "M5"),
        (150, "M5"),
        (151, "M6"),
        (180, "M6"),
        (181, "M6+"),
        (5000, "M6+"),
    ],
)
def test_bucket_edges(dpd: int, bucket: str) -> None:
    assert bucket_for(dpd, BANK) == bucket


def test_bucket_edges_are_a_setting() -> None:
    product = ProductSettings(bucket_edges=(0, 15), bucket_names=("C", "X", "Y"))
    assert [bucket_for(d, product) for d in (0, 1, 15, 16)] == ["C", "X", "X", "Y"]


@pytest.mark.parametrize(
    ("dpd", "cls"),
    [
        (0, C.NORMAL),
        (1, C.SPECIAL_MENTION),
        (90, C.SPECIAL_MENTION),
        (91, C.SUBSTANDARD),
        (270, C.SUBSTANDARD),
        (271, C.DOUBTFUL),
        (360, C.DOUBTFUL),
        (361, C.LOSS),
        (9999, C.LOSS),
    ],
)
def test_bank_2023_floor(dpd: int, cls: Classification) -> None:
    assert classification_floor(dpd, BANK) is cls


@pytest.mark.parametrize(
    ("dpd", "cls"),
    [
        (0, C.NORMAL),
        (1, C.SPECIAL_MENTION),
        (90, C.SPECIAL_MENTION),
        (91, C.SUBSTANDARD),
        (120, C.SUBSTANDARD),
        (121, C.DOUBTFUL),
        (180, C.DOUBTFUL),
        (181, C.LOSS),
        (9999, C.LOSS),
    ],
)
def test_credit_card_2011_floor(dpd: int, cls: Classification) -> None:
    assert classification_floor(dpd, CARD) is cls


def test_negative_dpd_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        bucket_for(-1, BANK)
    with pytest.raises(ValueError, match="negative"):
        classification_floor(-1, BANK)


@pytest.mark.parametrize("before", list(Classification))
@pytest.mark.parametrize("cls", list(Classification))
def test_restructure_floor(cls: Classification, before: Classification) -> None:
    floor = C.SPECIAL_MENTION if before in (C.NORMAL, C.SPECIAL_MENTION) else C.SUBSTANDARD
    expected = cls if cls.rank >= floor.rank else floor
    assert apply_restructure_floor(cls, before) is expected


def test_restructure_floor_examples() -> None:
    assert apply_restructure_floor(C.NORMAL, C.NORMAL) is C.SPECIAL_MENTION
    assert apply_restructure_floor(C.NORMAL, C.SPECIAL_MENTION) is C.SPECIAL_MENTION
    assert apply_restructure_floor(C.NORMAL, C.SUBSTANDARD) is C.SUBSTANDARD
    assert apply_restructure_floor(C.SPECIAL_MENTION, C.LOSS) is C.SUBSTANDARD
    assert apply_restructure_floor(C.LOSS, C.NORMAL) is C.LOSS
