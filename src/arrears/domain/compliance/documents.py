"""Checks on documents and reports rather than contacts: CN-R2 letters, CN-O2 scorecards."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

__all__ = ["LETTER_FIELDS", "RECOVERY_METRICS", "check_letter", "check_scorecard"]

# CN-R2: what a collection letter must contain.
LETTER_FIELDS = (
    "name",
    "amount_owed",
    "reason_and_legal_basis",
    "rights_and_duties",
    "how_to_check",
    "how_to_object",
    "lender_contact",
    "seal",
)

# CN-O2: metrics that measure amounts recovered.
RECOVERY_METRICS = frozenset(
    {"amount_recovered", "recovery_rate", "cash_collected", "collected_amount"}
)


def check_letter(fields: Mapping[str, str]) -> list[str]:
    """The CN-R2 fields missing or blank in a letter (``amount_owed`` must be a decimal
    amount, never a float)."""
    missing = [f for f in LETTER_FIELDS if not str(fields.get(f) or "").strip()]
    amount = str(fields.get("amount_owed") or "").strip()
    if amount and "amount_owed" not in missing:
        try:
            ok = Decimal(amount).is_finite() and Decimal(amount) >= 0
        except InvalidOperation:
            ok = False
        if not ok:
            missing.append("amount_owed (not a decimal amount)")
    return missing


def check_scorecard(weights: Mapping[str, Decimal]) -> list[str]:
    """CN-O2: problems with a collector scorecard — scored on amounts recovered alone."""
    used = {name for name, w in weights.items() if w != 0}
    if any(w < 0 for w in weights.values()):
        return ["weights must not be negative"]
    if not used:
        return ["the scorecard has no weighted metric"]
    if used <= RECOVERY_METRICS:
        return [
            "collectors are scored on amounts recovered alone "
            f"({', '.join(sorted(used))}); add conduct and quality metrics"
        ]
    return []
