"""The demo's people: users of every role, two teams, and accounts assigned to the collectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Engine, func, insert, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import tables as t
from arrears.domain.errors import Conflict
from arrears.domain.people import Actor, Role
from arrears.services.assignment import AssignmentRule, RuleResult, assign_by_rule
from arrears.services.auth import create_team, create_user, set_password
from arrears.services.promises import settle_promises

__all__ = [
    "DEMO_FIELD_TEAM",
    "DEMO_USERS",
    "DemoFieldTeam",
    "DemoPeople",
    "set_up_demo_field_team",
    "set_up_demo_people",
]

# username, role, team, display name (zh-CN demo staff)
DEMO_USERS: tuple[tuple[str, Role, str | None, str], ...] = (
    ("manager", Role.MANAGER, None, "王经理"),
    ("collector1", Role.COLLECTOR, "催收一组", "李娜"),
    ("collector2", Role.COLLECTOR, "催收二组", "张伟"),
    ("field1", Role.FIELD_AGENT, "催收一组", "刘强"),
    ("compliance", Role.COMPLIANCE, None, "陈合规"),
    ("admin", Role.ADMIN, None, "系统管理员"),
)


@dataclass(frozen=True, slots=True)
class DemoPeople:
    users: tuple[str, ...]
    collectors: RuleResult
    field: RuleResult


def set_up_demo_people(engine: Engine, password: str, now: datetime) -> DemoPeople:
    """Create (or reset the password of) the demo users; spread the accounts over them."""
    system = Actor("demo", Role.ADMIN)
    with engine.begin() as conn:
        teams = {r.name: r.team_id for r in conn.execute(select(d.teams.c.team_id, d.teams.c.name))}
        ids: dict[str, int] = {}
        for username, role, team, display in DEMO_USERS:
            if team and team not in teams:
                teams[team] = create_team(conn, team, now)
            known = conn.execute(
                select(d.users.c.user_id).where(d.users.c.username == username)
            ).scalar()
            if known is None:
                ids[username] = create_user(
                    conn, username, password, role, now, display, teams.get(team) if team else None
                )
            else:
                ids[username] = int(known)
                set_password(conn, int(known), password)
        collectors = assign_by_rule(
            conn, system, AssignmentRule.BALANCE, [ids["collector1"], ids["collector2"]], now
        )
        field = assign_by_rule(
            conn, system, AssignmentRule.BUCKET, [ids["field1"]], now, bucket="M3"
        )
    return DemoPeople(tuple(u for u, *_ in DEMO_USERS), collectors, field)


# The demo's field team (door visits): field1 and a second agent, based at a Beijing branch
# (Beijing holds most of the demo's overdue accounts); it covers Beijing, so the plan shows
# the other cities' visits as outside every territory.
DEMO_FIELD_AGENT = ("field2", "赵磊")
DEMO_FIELD_TEAM = {
    "team_id": "T1",
    "name": "外访一队",
    "home_label": "北京东城支行（东直门内大街）",
    "home_latitude": Decimal("39.9380"),
    "home_longitude": Decimal("116.4290"),
    "shift_start": time(9, 0),
    "shift_end": time(18, 0),
    "capacity": 8,
    "territory": ("北京市",),
}
DEMO_VISITS_MAX = 40  # visit requests seeded for the demo (the overdue Beijing accounts, M2+)


@dataclass(frozen=True, slots=True)
class DemoFieldTeam:
    team_id: str
    agents: tuple[str, str]
    requests: int


def set_up_demo_field_team(engine: Engine, password: str, now: datetime) -> DemoFieldTeam:
    """For ``arrears demo``: a second field agent, the field team T1 (field1 + field2) and
    visit requests for the most overdue Beijing accounts (as the strategy's M2+ door visits
    would make them), so that a day can be planned at once. Idempotent."""
    from arrears.services import visits
    from arrears.services.access import BATCH_ACTOR

    manager = Actor("demo", Role.MANAGER)
    username, display = DEMO_FIELD_AGENT
    with engine.begin() as conn:
        u = d.users.c
        team1 = conn.execute(select(d.teams.c.team_id).where(d.teams.c.name == "催收一组")).scalar()
        found = conn.execute(select(u.user_id).where(u.username == username)).scalar()
        if found is None:
            create_user(conn, username, password, Role.FIELD_AGENT, now, display, team1)
        else:
            set_password(conn, int(found), password)
        members = tuple(
            int(conn.execute(select(u.user_id).where(u.username == name)).scalar_one())
            for name in ("field1", username)
        )
        team = visits.TeamInput(**DEMO_FIELD_TEAM, members=members)  # type: ignore[arg-type]
        visits.save_team(conn, manager, team, now)
        s, b = t.status_history.c, t.borrowers.c
        last = conn.execute(select(func.max(s.as_of))).scalar()
        overdue = conn.execute(
            select(s.borrower_id, func.sum(s.total_due_now_minor).label("due"))
            .join(t.borrowers, b.borrower_id == s.borrower_id)
            .where(s.as_of == last, s.dpd >= 31, b.city == "北京市")
            .group_by(s.borrower_id)
            .order_by(func.sum(s.total_due_now_minor).desc(), s.borrower_id)
            .limit(DEMO_VISITS_MAX)
        ).all()
        created = 0
        for r in overdue:
            try:
                visits.request_visit(
                    conn,
                    BATCH_ACTOR,
                    r.borrower_id,
                    reason="segment M2-M4: door_visit (demo)",
                    now=now,
                    today=last or now.date(),
                    source="strategy",
                )
                created += 1
            except Conflict:
                continue  # an open request exists already
    return DemoFieldTeam(str(DEMO_FIELD_TEAM["team_id"]), ("field1", username), created)


DEMO_PROMISES = 40  # promises to pay seeded on the collectors' M1 accounts


def set_up_demo_promises(engine: Engine, now: datetime, as_of: date) -> dict[str, int]:
    """Promises to pay on the collectors' M1 accounts, so the desk shows some: half made ten
    days ago for three days ago (settled now against the book's real payments: kept, partly
    kept or broken), half made today for the coming days (open). Counts by state. Idempotent:
    nothing is added when the demo's promises exist."""
    h, a, u = t.status_history.c, d.account_assignments.c, d.users.c
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(nt.promises)).scalar_one():
            return {}
        rows = conn.execute(
            select(h.borrower_id, func.max(h.total_due_now_minor).label("due"), u.username)
            .join(d.account_assignments, a.borrower_id == h.borrower_id)
            .join(d.users, u.user_id == a.user_id)
            .where(
                h.as_of == as_of,
                h.dpd.between(1, 30),
                u.username.in_(("collector1", "collector2")),
            )
            .group_by(h.borrower_id, u.username)
            .order_by(h.borrower_id)
            .limit(DEMO_PROMISES)
        ).all()
        for k, r in enumerate(rows):
            past = k % 2 == 0
            made = as_of - timedelta(days=10) if past else as_of
            due = as_of - timedelta(days=3) if past else as_of + timedelta(days=2 + k % 7)
            amount = max(100_00, int(r.due or 0))
            made_row = conn.execute(
                insert(nt.promises).values(
                    borrower_id=r.borrower_id,
                    channel="phone",
                    promised_by="borrower",
                    made_on=made,
                    total_minor=amount,
                    tolerance_minor=100,
                    status="open",
                    recorded_by=r.username,
                    created_at=now,
                )
            )
            pid = int(made_row.inserted_primary_key[0])  # type: ignore[index]
            conn.execute(
                insert(nt.promise_items).values(
                    promise_id=pid, seq=1, due_on=due, amount_minor=amount
                )
            )
        settled = settle_promises(conn, as_of, now)
    opened = len(rows) - sum(settled.values())
    return {**settled, "open": opened} if rows else {}
