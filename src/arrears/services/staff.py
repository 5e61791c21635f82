"""The people who work accounts: active collectors and field agents, for assignment forms."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from arrears.adapters.db import desk_tables as d
from arrears.domain.people import Role

__all__ = ["StaffMember", "assignable_staff"]

_WORKERS = (Role.COLLECTOR.value, Role.FIELD_AGENT.value)


@dataclass(frozen=True, slots=True)
class StaffMember:
    user_id: int
    username: str
    display_name: str
    role: Role
    team: str | None


def assignable_staff(conn: Connection) -> list[StaffMember]:
    """Active collectors and field agents, by username."""
    u, tm = d.users, d.teams
    rows = conn.execute(
        select(u.c.user_id, u.c.username, u.c.display_name, u.c.role, tm.c.name)
        .select_from(u.outerjoin(tm, tm.c.team_id == u.c.team_id))
        .where(u.c.role.in_(_WORKERS), u.c.active.is_(True))
        .order_by(u.c.username)
    ).all()
    return [
        StaffMember(int(r[0]), str(r[1]), str(r[2]), Role(r[3]), r[4] if r[4] else None)
        for r in rows
    ]
