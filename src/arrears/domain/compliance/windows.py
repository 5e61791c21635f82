"""Rules shared in shape by both packs: permitted hours and per-day counts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from arrears.domain.compliance.clock import day_start, local_day, next_in_window
from arrears.domain.compliance.context import Ctx, Wait, per_zone
from arrears.domain.compliance.model import ClockWindow, PastAttempt

__all__ = ["daily_limit", "outside_hours"]


def outside_hours(ctx: Ctx, window: ClockWindow, consents: list[ClockWindow]) -> Wait | None:
    """Blocked unless the local time is in ``window`` or in a consent window."""

    def check(zone: ZoneInfo) -> Wait | None:
        moment = ctx.at.astimezone(zone).time()
        if window.contains(moment) or any(c.contains(moment) for c in consents):
            return None
        starts = [next_in_window(ctx.at, zone, w) for w in (window, *consents)]
        return Wait(min(starts))

    return per_zone(ctx, check)


def daily_limit(
    ctx: Ctx, counted: Callable[[PastAttempt], bool], limit: int
) -> tuple[Wait | None, int]:
    """Blocked when ``limit`` counted attempts already fall on the local day; the count is
    returned for the reason (the largest over the candidate zones)."""
    worst = 0

    def check(zone: ZoneInfo) -> Wait | None:
        nonlocal worst
        today = local_day(ctx.at, zone)
        n = sum(1 for a in ctx.attempts if counted(a) and local_day(a.at, zone) == today)
        worst = max(worst, n)
        if n < limit:
            return None
        return Wait(day_start(today + timedelta(days=1), zone) if limit > 0 else None)

    return per_zone(ctx, check), worst
