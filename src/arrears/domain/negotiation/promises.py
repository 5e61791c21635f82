"""Promises to pay: kept, partly kept, broken or still open (docs/negotiation.md).

A promise is one or more promised payments ``(date, amount)`` made on ``made_on``. Only
payments dated from ``made_on`` through ``as_of`` count, and they count cumulatively: part
``j`` is *covered* when the money paid by the end of its date reaches the promised amount
through that part, less the tolerance::

    paid(made_on .. date_j) >= promised_through_j − tolerance(promised_through_j)
    tolerance(x) = max(absolute, round2(x × percent))          (a product setting)

The promise is decided by the first of:

- the day the money paid reaches the whole promise (less tolerance): ``kept`` — possibly
  before the last promised date;
- the end of the first promised date whose part is not covered: ``partly_kept`` if some money
  was paid since the promise was made, else ``broken``.

Until then it is ``open``. The states are :class:`arrears.domain.strategy.PromiseStatus`
(the strategy conditions read them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.money import ZERO, round2_fraction
from arrears.domain.strategy import PromiseStatus

__all__ = ["PromiseEvaluation", "PromiseTolerance", "evaluate_promise"]


@dataclass(frozen=True, slots=True)
class PromiseTolerance:
    """How much short a payment may be and still keep a promise (per product)."""

    absolute: Decimal = ZERO
    percent: Decimal = ZERO  # a fraction: 0.02 = 2 %

    def allowed(self, promised: Decimal) -> Decimal:
        return max(self.absolute, round2_fraction(Fraction(promised) * Fraction(self.percent)))


@dataclass(frozen=True, slots=True)
class PromiseEvaluation:
    status: PromiseStatus  # OPEN, KEPT, PARTLY_KEPT or BROKEN
    as_of: date
    promised_total: Decimal
    paid: Decimal  # paid from made_on through as_of
    due_so_far: Decimal  # promised through the last promised date on or before as_of
    shortfall: Decimal  # at the decision (0 if kept); while open: max(0, due so far − paid)
    parts_covered: int  # promised parts covered by the decision (or so far)
    decided_on: date | None
    next_date: date | None  # next promised date not yet covered (open promises)


def _check(
    promised: Sequence[tuple[date, Decimal]],
    made_on: date,
    tolerance: PromiseTolerance,
) -> None:
    issues: list[Issue] = []
    if not promised:
        issues.append(Issue("promise", None, "promised", "a promise needs at least one payment"))
    for k, (on, amount) in enumerate(promised):
        if amount <= 0:
            issues.append(Issue("promise", k + 1, "amount", f"must be positive, got {amount}"))
        if on < made_on:
            issues.append(
                Issue("promise", k + 1, "date", f"{on} is before the promise was made {made_on}")
            )
    if len({on for on, _ in promised}) != len(promised):
        issues.append(Issue("promise", None, "date", "promised dates must be different"))
    if tolerance.absolute < 0 or not 0 <= tolerance.percent <= 1:
        issues.append(
            Issue("promise", None, "tolerance", "absolute must be >= 0, percent in [0, 1]")
        )
    if issues:
        raise ValidationError(issues)


def evaluate_promise(
    promised: Sequence[tuple[date, Decimal]],
    payments: Sequence[tuple[date, Decimal]],
    as_of: date,
    *,
    made_on: date,
    tolerance: PromiseTolerance | None = None,
) -> PromiseEvaluation:
    """The promise at the end of ``as_of``."""
    tol = tolerance or PromiseTolerance()
    _check(promised, made_on, tol)
    parts = sorted(promised)
    pays = sorted((on, a) for on, a in payments if made_on <= on <= as_of)
    paid = sum((a for _, a in pays), ZERO)
    cum: list[Decimal] = []
    for _, amount in parts:
        cum.append((cum[-1] if cum else ZERO) + amount)
    total = cum[-1]

    def paid_by(d: date) -> Decimal:
        return sum((a for on, a in pays if on <= d), ZERO)

    # the day the whole promise is met (less tolerance)
    kept_on: date | None = made_on if total <= tol.allowed(total) else None
    running = ZERO
    for on, amount in pays:
        running += amount
        if kept_on is None and running >= total - tol.allowed(total):
            kept_on = on
            break
    # the first promised date whose part is not covered
    failed: int | None = None
    for k, (on, _) in enumerate(parts):
        if on > as_of or (kept_on is not None and kept_on <= on):
            break
        if paid_by(on) < cum[k] - tol.allowed(cum[k]):
            failed = k
            break
    due_so_far = max((cum[k] for k, (on, _) in enumerate(parts) if on <= as_of), default=ZERO)
    if failed is not None:
        on = parts[failed][0]
        by_then = paid_by(on)
        return PromiseEvaluation(
            status=PromiseStatus.PARTLY_KEPT if by_then > 0 else PromiseStatus.BROKEN,
            as_of=as_of,
            promised_total=total,
            paid=paid,
            due_so_far=due_so_far,
            shortfall=cum[failed] - by_then,
            parts_covered=failed,
            decided_on=on,
            next_date=None,
        )
    if kept_on is not None:
        return PromiseEvaluation(
            status=PromiseStatus.KEPT,
            as_of=as_of,
            promised_total=total,
            paid=paid,
            due_so_far=due_so_far,
            shortfall=ZERO,
            parts_covered=len(parts),
            decided_on=kept_on,
            next_date=None,
        )
    covered = sum(1 for k in range(len(parts)) if paid >= cum[k] - tol.allowed(cum[k]))
    return PromiseEvaluation(
        status=PromiseStatus.OPEN,
        as_of=as_of,
        promised_total=total,
        paid=paid,
        due_so_far=due_so_far,
        shortfall=max(ZERO, due_so_far - paid),
        parts_covered=covered,
        decided_on=None,
        next_date=parts[covered][0] if covered < len(parts) else None,
    )
