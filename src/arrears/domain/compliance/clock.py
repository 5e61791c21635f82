"""Wall-clock arithmetic in the target's zone, correct across DST changes.

Only standard-library ``zoneinfo``; no reading of the current time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from arrears.domain.compliance.model import ClockWindow

__all__ = [
    "CN_ZONES",
    "US_ZONES",
    "day_start",
    "local_day",
    "next_in_window",
    "resolve_zone",
    "rolling_free_day",
    "wall_to_instant",
]

CN_ZONES = ("Asia/Shanghai",)
# The zones the United States spans for contact purposes, west to east.
US_ZONES = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
)


def resolve_zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def wall_to_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The earliest instant (UTC) at which the local clock shows ``day wall`` or later.

    An ambiguous wall time (clocks go back) gives its first occurrence; one skipped by a DST
    gap gives the instant the gap ends.
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
        return min(first, other) if other.astimezone(zone).replace(tzinfo=None) == naive else first
    # In a gap: find the transition between the two readings by bisection (to the second).
    lo = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = first
    lo, hi = min(lo, hi), max(lo, hi)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    return wall_to_instant(day, time(0), zone)


def next_in_window(at: datetime, zone: ZoneInfo, window: ClockWindow) -> datetime:
    """The earliest instant ``>= at`` whose local time lies in ``window``."""
    local = at.astimezone(zone)
    if window.contains(local.time().replace(tzinfo=None)):
        return at
    today = local.date()
    moment = local.time().replace(tzinfo=None)
    if window.start < window.end and moment >= window.end:
        candidate = wall_to_instant(today + timedelta(days=1), window.start, zone)
    else:
        candidate = wall_to_instant(today, window.start, zone)
    return max(candidate, at)


def rolling_free_day(days: Iterable[date], today: date, limit: int, span: int) -> date | None:
    """The first day ``d >= today`` on which fewer than ``limit`` of ``days`` fall in the
    ``span`` consecutive days ending with ``d`` (None when ``limit`` is 0: never)."""
    if limit <= 0:
        return None
    counted = [d for d in days if d <= today]
    day = today
    while sum(1 for d in counted if day - timedelta(days=span - 1) <= d <= day) >= limit:
        day += timedelta(days=1)
    return day
