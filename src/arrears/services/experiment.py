"""Champion / challenger: how each arm of a strategy did over a period.

Accounts are the borrowers with an unpaid loan at the period's first cycle date; each is in
the arm its stable hash gives (``domain.strategy.arm_of``; the same as the daily batch). Per
arm, between the cycle dates ``start`` and ``end``:

- **cure rate**: of the accounts past due at ``start``, the share with nothing past due at
  ``end`` (no loan with DPD > 0; paid-off loans count as cured);
- **roll rate**: of all accounts, the share whose worst loan is in a worse 30-day bucket
  (M0 current, M1 1–30 DPD, …, M7 181+) at ``end`` than at ``start``;
- **collected per account**: payments with ``start < paid_on <= end`` on the account's loans;
- **contacts per account**: desk contact attempts in the period.

Rates carry a Wilson 95 % interval, per-account means a normal-approximation 95 % interval
(mean ± 1.96 · sd / √n). Money stays in integer minor units; only the statistics of it
(means, intervals) are fractional.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, case, func, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.errors import Issue, ValidationError
from arrears.domain.strategy import Arm, arm_of

__all__ = ["ArmFigures", "Interval", "arm_report", "experiment_dates"]

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Interval:
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class ArmFigures:
    arm: str
    strategy: str
    accounts: int
    delinquent_at_start: int
    cured: int
    rolled: int
    collected_minor: int
    contacts: int
    cure_rate: Interval | None
    roll_rate: Interval | None
    collected_per_account: Interval | None  # minor units
    contacts_per_account: Interval | None


def wilson(successes: int, n: int) -> Interval | None:
    if n == 0:
        return None
    p = successes / n
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: Sequence[int]) -> Interval | None:
    n = len(values)
    if n == 0:
        return None
    total = sum(values)
    mean = total / n
    if n == 1:
        return Interval(mean, mean, mean)
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = Z95 * math.sqrt(var / n)
    return Interval(mean, mean - half, mean + half)


def _bucket(dpd: int) -> int:
    return min(7, -(-dpd // 30)) if dpd > 0 else 0


def _worst(conn: Connection, day: date) -> dict[str, tuple[int, bool]]:
    """borrower → (worst DPD of the unpaid loans, has an unpaid loan) at cycle date ``day``."""
    s = t.status_history
    unpaid = s.c.paid_off.is_(False)
    rows = conn.execute(
        select(
            s.c.borrower_id,
            func.max(case((unpaid, s.c.dpd), else_=0)),
            func.max(case((unpaid, 1), else_=0)),
        )
        .where(s.c.as_of == day)
        .group_by(s.c.borrower_id)
    )
    return {b: (int(dpd), bool(open_)) for b, dpd, open_ in rows}


def experiment_dates(conn: Connection) -> list[date]:
    """The cycle dates a report may start or end on: the last of each month, and the newest."""
    s = t.status_history
    days = sorted(
        d for d in conn.execute(select(s.c.as_of).distinct()).scalars() if isinstance(d, date)
    )
    last_of_month = {(d.year, d.month): d for d in days}
    picked = sorted(set(last_of_month.values()) | set(days[-1:]))
    return picked


def arm_report(
    conn: Connection, arms: Sequence[Arm], start: date, end: date, lender_tz: str
) -> list[ArmFigures]:
    """Each arm's figures between the cycle dates ``start`` and ``end`` (both must have run)."""
    if end <= start:
        raise ValidationError([Issue("report", None, "to", "the end must be after the start")])
    s = t.status_history
    known = {
        r[0]
        for r in conn.execute(
            select(s.c.as_of).where(s.c.as_of.in_([start, end])).group_by(s.c.as_of)
        )
    }
    missing = [day for day in (start, end) if day not in known]
    if missing:
        raise ValidationError(
            [
                Issue("report", None, "from" if day == start else "to", f"no cycle on {day}")
                for day in missing
            ]
        )
    before = _worst(conn, start)
    after = _worst(conn, end)
    accounts = sorted(b for b, (_, unpaid) in before.items() if unpaid)
    shares = [(a.name, Fraction(a.share)) for a in arms]
    salt = arms[-1].strategy.salt if arms else ""
    arm_by = {b: arm_of(b, shares, salt) for b in accounts}

    lo, p = t.loans, t.payments
    collected: dict[str, int] = {}
    for b, amount in conn.execute(
        select(lo.c.borrower_id, func.sum(p.c.amount_minor))
        .join_from(p, lo, lo.c.loan_id == p.c.loan_id)
        .where(p.c.paid_on > start, p.c.paid_on <= end)
        .group_by(lo.c.borrower_id)
    ):
        collected[b] = int(amount)
    zone = ZoneInfo(lender_tz)
    since = datetime.combine(start + timedelta(days=1), time(0), zone)
    until = datetime.combine(end + timedelta(days=1), time(0), zone)
    c = d.contact_attempts
    contacts = {
        b: int(n)
        for b, n in conn.execute(
            select(c.c.borrower_id, func.count())
            .where(c.c.at >= since, c.c.at < until)
            .group_by(c.c.borrower_id)
        )
    }
    out = []
    for arm in arms:
        mine = [b for b in accounts if arm_by[b] == arm.name]
        late = [b for b in mine if before[b][0] > 0]
        cured = sum(1 for b in late if after.get(b, (0, False))[0] == 0)
        rolled = sum(
            1 for b in mine if _bucket(after.get(b, (0, False))[0]) > _bucket(before[b][0])
        )
        money = [collected.get(b, 0) for b in mine]
        calls = [contacts.get(b, 0) for b in mine]
        out.append(
            ArmFigures(
                arm=arm.name,
                strategy=arm.strategy.label,
                accounts=len(mine),
                delinquent_at_start=len(late),
                cured=cured,
                rolled=rolled,
                collected_minor=sum(money),
                contacts=sum(calls),
                cure_rate=wilson(cured, len(late)),
                roll_rate=wilson(rolled, len(mine)),
                collected_per_account=mean_interval(money),
                contacts_per_account=mean_interval(calls),
            )
        )
    return out
