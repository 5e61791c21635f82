"""The demo's people: users of every role, two teams, and accounts assigned to the collectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from arrears.adapters.db import desk_tables as d
from arrears.domain.people import Actor, Role
from arrears.services.assignment import AssignmentRule, RuleResult, assign_by_rule
from arrears.services.auth import create_team, create_user, set_password

__all__ = ["DEMO_USERS", "DemoPeople", "set_up_demo_people"]

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
