"""The manager's view of the book: counts and balances by bucket, class and DPD band, month
over month roll rates, and each collector's workload.

Everything is one SQL aggregate per figure over ``status_history`` (indexed by ``as_of``):
nothing loops over loans in Python, so it works the same on forty loans or a million.
Paid-off loans are left out of every figure except the count reported as excluded.

Balance of a loan = principal outstanding (due or not) + overdue interest + penalty +
compound interest, i.e. what the borrower would owe to settle today; overdue = what is due
now (``total_due_now``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Connection, and_, case, func, select
from sqlalchemy.sql.elements import literal

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.people import Role
from arrears.domain.products import DEFAULT_BUCKET_NAMES, Classification

__all__ = [
    "DPD_BANDS",
    "DpdBand",
    "GroupRow",
    "PortfolioView",
    "RollPeriod",
    "RollRow",
    "Workload",
    "by_key",
    "cities",
    "dpd_distribution",
    "last_cycle_date",
    "portfolio_view",
    "roll_periods",
    "roll_rates",
    "unassigned_accounts",
    "workload",
]

s = t.status_history
# Inclusive DPD bands; ``None`` as the upper end means no upper end.
DPD_BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 0),
    (1, 7),
    (8, 15),
    (16, 30),
    (31, 60),
    (61, 90),
    (91, 180),
    (181, None),
)
_WORKERS = (Role.COLLECTOR.value, Role.FIELD_AGENT.value)


@dataclass(frozen=True, slots=True)
class GroupRow:
    key: str
    loans: int
    balance_minor: int
    overdue_minor: int


@dataclass(frozen=True, slots=True)
class DpdBand:
    low: int
    high: int | None
    loans: int
    balance_minor: int


@dataclass(frozen=True, slots=True)
class RollRow:
    """Of the ``loans`` active in ``bucket`` at the start, how many were where at the end."""

    bucket: str
    next_bucket: str | None
    loans: int
    to_next: int  # exactly one bucket worse: the roll rate's numerator
    worse: int  # any worse bucket (includes ``to_next``)
    cured: int  # back in the first bucket
    paid_off: int

    @property
    def rate(self) -> float | None:
        if self.next_bucket is None or not self.loans:
            return None
        return self.to_next / self.loans


@dataclass(frozen=True, slots=True)
class RollPeriod:
    start: date
    end: date
    rows: tuple[RollRow, ...]

    def rate_of(self, bucket: str) -> float | None:
        return next((r.rate for r in self.rows if r.bucket == bucket), None)


@dataclass(frozen=True, slots=True)
class Workload:
    user_id: int
    username: str
    display_name: str
    role: str
    accounts: int
    overdue_accounts: int
    balance_minor: int
    overdue_minor: int


@dataclass(frozen=True, slots=True)
class PortfolioView:
    as_of: date | None
    loans: int
    balance_minor: int
    overdue_minor: int
    paid_off_excluded: int
    by_bucket: tuple[GroupRow, ...]
    by_classification: tuple[GroupRow, ...]
    dpd: tuple[DpdBand, ...]
    rolls: tuple[RollPeriod, ...]
    workload: tuple[Workload, ...]


def _balance() -> ColumnElement[int]:
    return (
        s.c.principal_outstanding_minor
        + s.c.overdue_interest_minor
        + s.c.accrued_penalty_minor
        + s.c.accrued_compound_minor
    )


def _sum(col: ColumnElement[int]) -> ColumnElement[int]:
    return func.coalesce(func.sum(col), 0)


def last_cycle_date(conn: Connection) -> date | None:
    value = conn.execute(select(func.max(s.c.as_of))).scalar()
    return value if isinstance(value, date) else None


def _ordered(found: Sequence[str], order: Sequence[str]) -> list[str]:
    return [*order, *sorted(k for k in found if k not in order)]


def by_key(conn: Connection, as_of: date, key: str, order: Sequence[str]) -> list[GroupRow]:
    """Active loans at ``as_of`` grouped by ``key`` (``bucket`` or ``classification``), in
    ``order`` (keys with no loans get a zero row; unexpected keys come last)."""
    col = s.c[key]
    rows = conn.execute(
        select(col, func.count(), _sum(_balance()), _sum(s.c.total_due_now_minor))
        .where(s.c.as_of == as_of, s.c.paid_off.is_(False))
        .group_by(col)
    ).all()
    found = {str(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}
    return [GroupRow(k, *found.get(k, (0, 0, 0))) for k in _ordered(list(found), order)]


def dpd_distribution(conn: Connection, as_of: date) -> list[DpdBand]:
    """Active loans at ``as_of`` per DPD band of :data:`DPD_BANDS`."""
    band = case(
        *[
            (s.c.dpd <= high if high is not None else s.c.dpd >= low, literal(i))
            for i, (low, high) in enumerate(DPD_BANDS)
        ],
        else_=literal(0),
    ).label("band")
    rows = conn.execute(
        select(band, func.count(), _sum(_balance()))
        .where(s.c.as_of == as_of, s.c.paid_off.is_(False))
        .group_by(band)
    ).all()
    found = {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
    return [DpdBand(lo, hi, *found.get(i, (0, 0))) for i, (lo, hi) in enumerate(DPD_BANDS)]


def roll_periods(conn: Connection, as_of: date, months: int = 6) -> list[tuple[date, date]]:
    """Consecutive (start, end) pairs of the last cycle date of each of the last ``months``
    months, ending at ``as_of``; months without a cycle end the history."""
    points = [as_of]
    month_end = as_of.replace(day=1) - timedelta(days=1)
    for _ in range(months):
        month_start = month_end.replace(day=1)
        found = conn.execute(
            select(func.max(s.c.as_of)).where(s.c.as_of >= month_start, s.c.as_of <= month_end)
        ).scalar()
        if not isinstance(found, date):
            break
        points.append(found)
        month_end = month_start - timedelta(days=1)
    points.reverse()
    return list(itertools.pairwise(points))


def _rank(col: ColumnElement[str], buckets: Sequence[str]) -> ColumnElement[int]:
    return case({b: i for i, b in enumerate(buckets)}, value=col, else_=None)


def roll_rates(
    conn: Connection, start: date, end: date, buckets: Sequence[str] = DEFAULT_BUCKET_NAMES
) -> RollPeriod:
    """Where the loans active at ``start`` are at ``end``, per starting bucket."""
    a, b = s.alias("start_"), s.alias("end_")
    ra, rb = _rank(a.c.bucket, buckets), _rank(b.c.bucket, buckets)
    live = b.c.paid_off.is_(False)

    def n(cond: ColumnElement[bool]) -> ColumnElement[int]:
        return _sum(case((cond, 1), else_=0))

    rows = conn.execute(
        select(
            a.c.bucket,
            func.count(),
            n(and_(live, rb == ra + 1)),
            n(and_(live, rb > ra)),
            n(and_(live, b.c.bucket == buckets[0], a.c.bucket != buckets[0])),
            n(b.c.paid_off.is_(True)),
        )
        .select_from(a.outerjoin(b, and_(b.c.loan_id == a.c.loan_id, b.c.as_of == end)))
        .where(a.c.as_of == start, a.c.paid_off.is_(False))
        .group_by(a.c.bucket)
    ).all()
    found = {str(r[0]): [int(v) for v in r[1:]] for r in rows}
    names = _ordered(list(found), buckets)
    out = []
    for i, name in enumerate(names):
        nxt = names[i + 1] if name in buckets and i + 1 < len(buckets) else None
        loans, to_next, worse, cured, paid = found.get(name, [0, 0, 0, 0, 0])
        out.append(RollRow(name, nxt, loans, to_next, worse, cured, paid))
    return RollPeriod(start, end, tuple(out))


def workload(conn: Connection, as_of: date | None) -> list[Workload]:
    """Each active collector's and field agent's accounts and their balances at ``as_of``."""
    u, a = d.users, d.account_assignments
    on = and_(s.c.borrower_id == a.c.borrower_id, s.c.as_of == as_of, s.c.paid_off.is_(False))
    overdue_account = case((s.c.dpd > 0, a.c.borrower_id), else_=None)
    rows = conn.execute(
        select(
            u.c.user_id,
            u.c.username,
            u.c.display_name,
            u.c.role,
            func.count(func.distinct(a.c.borrower_id)),
            func.count(func.distinct(overdue_account)),
            _sum(_balance()),
            _sum(s.c.total_due_now_minor),
        )
        .select_from(u.outerjoin(a, a.c.user_id == u.c.user_id).outerjoin(s, on))
        .where(u.c.role.in_(_WORKERS), u.c.active.is_(True))
        .group_by(u.c.user_id, u.c.username, u.c.display_name, u.c.role)
        .order_by(u.c.username)
    ).all()
    return [
        Workload(int(r[0]), str(r[1]), str(r[2]), str(r[3]), *(int(v) for v in r[4:])) for r in rows
    ]


def unassigned_accounts(conn: Connection, as_of: date | None) -> int:
    """Accounts with an active loan at ``as_of`` that nobody works."""
    if as_of is None:
        return 0
    q = select(func.count(func.distinct(s.c.borrower_id))).where(
        s.c.as_of == as_of,
        s.c.paid_off.is_(False),
        s.c.borrower_id.not_in(select(d.account_assignments.c.borrower_id)),
    )
    return int(conn.execute(q).scalar_one())


def cities(conn: Connection) -> list[str]:
    """The borrowers' cities (not personal data: the city alone identifies nobody)."""
    c = t.borrowers.c.city
    q = select(c).where(c.is_not(None)).distinct().order_by(c)
    return [str(v) for v in conn.execute(q).scalars()]


def portfolio_view(
    conn: Connection, months: int = 6, buckets: Sequence[str] = DEFAULT_BUCKET_NAMES
) -> PortfolioView:
    """The whole page's figures at the last cycle date."""
    as_of = last_cycle_date(conn)
    if as_of is None:
        return PortfolioView(None, 0, 0, 0, 0, (), (), (), (), tuple(workload(conn, None)))
    by_bucket = by_key(conn, as_of, "bucket", buckets)
    paid_off = conn.execute(
        select(func.count()).where(s.c.as_of == as_of, s.c.paid_off.is_(True))
    ).scalar_one()
    return PortfolioView(
        as_of=as_of,
        loans=sum(r.loans for r in by_bucket),
        balance_minor=sum(r.balance_minor for r in by_bucket),
        overdue_minor=sum(r.overdue_minor for r in by_bucket),
        paid_off_excluded=int(paid_off),
        by_bucket=tuple(by_bucket),
        by_classification=tuple(
            by_key(conn, as_of, "classification", [c.value for c in Classification])
        ),
        dpd=tuple(dpd_distribution(conn, as_of)),
        rolls=tuple(roll_rates(conn, a, b, buckets) for a, b in roll_periods(conn, as_of, months)),
        workload=tuple(workload(conn, as_of)),
    )
