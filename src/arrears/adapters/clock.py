"""The one place that reads the clock; everything else receives ``now`` / ``as_of``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

__all__ = ["SystemClock"]


class SystemClock:
    def __init__(self, lender_timezone: str) -> None:
        self._zone = ZoneInfo(lender_timezone)

    def now(self) -> datetime:
        return datetime.now(tz=UTC)

    def today(self) -> date:
        """The business date in the lender's zone."""
        return datetime.now(tz=self._zone).date()
