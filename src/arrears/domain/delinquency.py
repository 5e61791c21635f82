"""Buckets and risk classification floors (loan-math.md "Buckets", "Risk classification")."""

from __future__ import annotations

from arrears.domain.products import Classification, ProductSettings

__all__ = ["apply_restructure_floor", "bucket_for", "classification_floor", "worse_of"]


def bucket_for(dpd: int, product: ProductSettings) -> str:
    """The bucket name for ``dpd`` under the product's bucket edges."""
    if dpd < 0:
        raise ValueError(f"dpd must not be negative, got {dpd}")
    return product.bucket_for(dpd)


def classification_floor(dpd: int, product: ProductSettings) -> Classification:
    """The minimum (best allowed) class for ``dpd`` under the product's table."""
    if dpd < 0:
        raise ValueError(f"dpd must not be negative, got {dpd}")
    return product.classification.floor_for(dpd)


def worse_of(a: Classification, b: Classification) -> Classification:
    return a if a.rank >= b.rank else b


def apply_restructure_floor(cls: Classification, before: Classification) -> Classification:
    """Class of a restructured loan during its observation period.

    At least ``special_mention`` if it was ``normal`` or ``special_mention`` before the
    restructure, otherwise at least ``substandard``. Whether the observation period is still
    running is the caller's decision.
    """
    if before.rank <= Classification.SPECIAL_MENTION.rank:
        floor = Classification.SPECIAL_MENTION
    else:
        floor = Classification.SUBSTANDARD
    return worse_of(cls, floor)
