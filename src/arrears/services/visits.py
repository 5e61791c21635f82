"""Door visits, the planning part (issue 6): field teams, the visit queue, day plans and the
route sheet. The visit record (start, outcome, evidence) is ``services.visit_record``.

**Requests.** A visit request arises from the daily run (an allowed ``door_visit`` proposal:
source ``strategy``, or ``broken_promise`` when the proposal's segment is the broken-promise
one), or by hand (a manager or a collector, with a reason: ``manual``). An account has at most
one open request (``requested``, ``planned`` or ``started``). Its priority is
``domain.routing.visit_priority(amount due now, days past due)`` in minor units, from the
last cycle's status (or the day's status for the daily run).

**Teams.** A field team has a home branch (where routes start and end), a shift, a capacity
(visits per day), a territory (city or district names; empty = anywhere) and exactly two
active field agents (CN-V1: two staff). A team without its two agents is not planned.

**Planning a day** (:func:`plan_visits`): the open requests (waiting, planned for the day, or
planned for a past day and never started) and the ready teams become a
``domain.routing.RoutingProblem``: coordinates through ``services.access.visit_points``,
windows = the borrower's stated availability clipped to the pack's visiting hours (CN-T2),
pins as given, a locked route (``route_locks``) as that team's current stops in order. The
engine's ``plan_day`` chooses and orders the visits (fixed seed, time limit a setting). Then
the compliance gate is asked for each planned stop at its planned start, with the team's two
agents as the staff; every decision is recorded, and a blocked stop leaves the route with the
blocking rules as its reason (the other stops keep their times: dropping a stop never makes a
route with haversine travel times infeasible). The plan is stored: each stop's team, order
and times; each unplanned visit's reason; per team the distance and an SVG map.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.adapters.db import visit_tables as vt
from arrears.domain.compliance import (
    Actor as GateActor,
)
from arrears.domain.compliance import (
    ActorKind,
    Attempt,
    Channel,
    ClockWindow,
    HistoryEntry,
    Pack,
    Purpose,
    Target,
    TargetKind,
    decide,
)
from arrears.domain.errors import Conflict, Forbidden, Issue, NotFound, ValidationError
from arrears.domain.people import Actor, Permission, Role, may
from arrears.domain.routing import (
    HaversineTravel,
    LockedRoute,
    Point,
    RoutePlan,
    RoutingProblem,
    Stop,
    Team,
    TeamRoute,
    VisitRequest,
    check_plan,
    clip_window,
    home_key,
    route_svg,
    visit_priority,
)
from arrears.engine.routing import PlannerSettings, plan_day
from arrears.services.access import BATCH_ACTOR, VisitPoint, check_account, visit_points
from arrears.services.audit import record
from arrears.services.contact_gate import history_of, record_decision

__all__ = [
    "BROKEN_PROMISE_SEGMENTS",
    "OPEN_STATUSES",
    "DayPlanView",
    "FieldTeam",
    "PlanOutcome",
    "PlanStop",
    "RequestRow",
    "RouteStop",
    "RouteSummary",
    "Source",
    "TeamInput",
    "TeamMember",
    "TeamRouteView",
    "UnplannedCode",
    "UnplannedRow",
    "VisitStatus",
    "create_team",
    "day_plan",
    "field_agents",
    "list_requests",
    "list_teams",
    "lock_route",
    "parse_team",
    "parse_window",
    "pin_visit",
    "plan_visits",
    "request_strategy_visits",
    "request_visit",
    "route_for",
    "save_team",
    "unlock_route",
    "update_team",
    "visit_for",
]


class Source(StrEnum):
    STRATEGY = "strategy"
    BROKEN_PROMISE = "broken_promise"
    MANUAL = "manual"


class VisitStatus(StrEnum):
    REQUESTED = "requested"
    PLANNED = "planned"
    STARTED = "started"
    DONE = "done"
    CANCELLED = "cancelled"


class UnplannedCode(StrEnum):
    """Reasons of the service, beyond the planner's (``domain.routing.Reason``); a visit the
    gate blocked has ``gate:`` followed by the blocking rules (``gate:CN-T2,CN-V1``)."""

    OUTSIDE_VISITING_HOURS = "outside_visiting_hours"  # the stated window misses the hours
    NO_COORDINATES = "no_coordinates"  # the borrower's address has no coordinates
    PINNED_TEAM_UNAVAILABLE = "pinned_team_unavailable"  # pinned team inactive or not two
    NO_READY_TEAM = "no_ready_team"  # no active team with its two field agents


GATE_PREFIX = "gate:"
OPEN_STATUSES = (VisitStatus.REQUESTED.value, VisitStatus.PLANNED.value, VisitStatus.STARTED.value)
#: Segments of the strategy whose door visits follow a broken promise (the default strategy's).
BROKEN_PROMISE_SEGMENTS = frozenset({"broken-promise"})
DEFAULT_DURATION_MIN = 45
MIN_DURATION_MIN, MAX_DURATION_MIN = 10, 240
MAX_CAPACITY = 50
TEAM_SIZE = 2  # CN-V1: a door visit is made by two staff
#: Visiting hours when the pack names none (a pack without CN-T2): 08:00–21:00.
FALLBACK_HOURS = ClockWindow(time(8, 0), time(21, 0))
_TEAM_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SRC = "visit"


# --------------------------------------------------------------------------------------------
# Teams


@dataclass(frozen=True, slots=True)
class TeamMember:
    user_id: int
    username: str
    display_name: str
    role: str
    active: bool

    @property
    def field_agent(self) -> bool:
        return self.active and self.role == Role.FIELD_AGENT.value


@dataclass(frozen=True, slots=True)
class TeamInput:
    team_id: str
    name: str
    home_label: str
    home_latitude: Decimal
    home_longitude: Decimal
    shift_start: time
    shift_end: time
    capacity: int
    territory: tuple[str, ...]
    members: tuple[int, ...]
    active: bool = True


@dataclass(frozen=True, slots=True)
class FieldTeam:
    team_id: str
    name: str
    home_label: str
    home_latitude: Decimal
    home_longitude: Decimal
    shift_start: time
    shift_end: time
    capacity: int
    territory: tuple[str, ...]
    active: bool
    members: tuple[TeamMember, ...] = ()

    @property
    def agents(self) -> tuple[str, ...]:
        """Usernames of the active field agents of the team."""
        return tuple(m.username for m in self.members if m.field_agent)

    @property
    def ready(self) -> bool:
        """Planned only when active with exactly two active field agents (CN-V1)."""
        return self.active and len(self.agents) == TEAM_SIZE

    def domain(self, shift_start: int | None = None) -> Team:
        return Team(
            id=self.team_id,
            home=Point(float(self.home_latitude), float(self.home_longitude)),
            shift_start=_secs(self.shift_start) if shift_start is None else shift_start,
            shift_end=_secs(self.shift_end),
            capacity=self.capacity,
            territory=frozenset(self.territory),
        )


def _secs(value: time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def _at(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """Seconds from local midnight of ``day`` as a tz-aware instant (wall-clock arithmetic)."""
    return datetime.combine(day, time.min, tzinfo=zone) + timedelta(seconds=seconds)


def _territory(text: str | None) -> tuple[str, ...]:
    parts = re.split(r"[,，、;；\n]+", text or "")
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def parse_window(start: str, end: str, where: str = "form") -> tuple[time, time] | None:
    """A stated availability from two ``HH:MM`` texts (both empty: None = visiting hours)."""
    start, end = start.strip(), end.strip()
    if not start and not end:
        return None
    issues: list[Issue] = []
    parsed: list[time] = []
    for name, text in (("window_start", start), ("window_end", end)):
        try:
            parsed.append(time.fromisoformat(text))
        except ValueError:
            issues.append(Issue(where, None, name, f"not a time (HH:MM): {text!r}"))
    if issues:
        raise ValidationError(issues)
    if parsed[0] >= parsed[1]:
        raise ValidationError([Issue(where, None, "window_end", "must be after the start")])
    return parsed[0], parsed[1]


def parse_team(fields: Mapping[str, str], members: Sequence[str]) -> TeamInput:
    """A team from form texts (every problem named at once)."""
    issues: list[Issue] = []

    def bad(column: str, reason: str) -> None:
        issues.append(Issue("team", None, column, reason))

    def decimal(name: str) -> Decimal:
        text = fields.get(name, "").strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            bad(name, f"not a number: {text!r}")
            return Decimal(0)
        if not value.is_finite():
            bad(name, f"not a number: {text!r}")
            return Decimal(0)
        return value

    def clock(name: str) -> time:
        text = fields.get(name, "").strip()
        try:
            return time.fromisoformat(text)
        except ValueError:
            bad(name, f"not a time (HH:MM): {text!r}")
            return time(0)

    cap_text = fields.get("capacity", "").strip()
    capacity = int(cap_text) if cap_text.isdigit() else -1
    if capacity < 0:
        bad("capacity", f"not a whole number: {cap_text!r}")
    user_ids: list[int] = []
    for raw in members:
        text = str(raw).strip()
        if not text:
            continue
        if text.isdigit():
            user_ids.append(int(text))
        else:
            bad("members", f"not a user id: {text!r}")
    team = TeamInput(
        team_id=fields.get("team_id", "").strip(),
        name=fields.get("name", "").strip(),
        home_label=fields.get("home_label", "").strip(),
        home_latitude=decimal("home_latitude"),
        home_longitude=decimal("home_longitude"),
        shift_start=clock("shift_start"),
        shift_end=clock("shift_end"),
        capacity=max(capacity, 0),
        territory=_territory(fields.get("territory")),
        members=tuple(user_ids),
        active=fields.get("active", "on") in ("on", "true", "1", "yes"),
    )
    if issues:
        raise ValidationError(issues)
    return team


def _members(
    conn: Connection, team_ids: Sequence[str] | None = None
) -> dict[str, list[TeamMember]]:
    m, u = vt.field_team_members, d.users
    q = (
        select(m.c.team_id, u.c.user_id, u.c.username, u.c.display_name, u.c.role, u.c.active)
        .join(u, u.c.user_id == m.c.user_id)
        .order_by(m.c.team_id, u.c.username)
    )
    if team_ids is not None:
        q = q.where(m.c.team_id.in_(list(team_ids)))
    out: dict[str, list[TeamMember]] = {}
    for r in conn.execute(q):
        out.setdefault(r.team_id, []).append(
            TeamMember(r.user_id, r.username, r.display_name, r.role, bool(r.active))
        )
    return out


def list_teams(conn: Connection, *, active_only: bool = False) -> list[FieldTeam]:
    """Every field team (or the active ones) with its members, by id."""
    ft = vt.field_teams
    q = select(ft).order_by(ft.c.team_id)
    if active_only:
        q = q.where(ft.c.active.is_(True))
    rows = conn.execute(q).all()
    members = _members(conn, [r.team_id for r in rows])
    return [
        FieldTeam(
            team_id=r.team_id,
            name=r.name,
            home_label=r.home_label,
            home_latitude=r.home_latitude,
            home_longitude=r.home_longitude,
            shift_start=r.shift_start,
            shift_end=r.shift_end,
            capacity=r.capacity,
            territory=_territory(r.territory),
            active=bool(r.active),
            members=tuple(members.get(r.team_id, ())),
        )
        for r in rows
    ]


def field_agents(conn: Connection) -> list[TeamMember]:
    """The active field agents (who may be a team's members)."""
    u = d.users
    rows = conn.execute(
        select(u.c.user_id, u.c.username, u.c.display_name, u.c.role, u.c.active)
        .where(u.c.role == Role.FIELD_AGENT.value, u.c.active.is_(True))
        .order_by(u.c.username)
    )
    return [TeamMember(r.user_id, r.username, r.display_name, r.role, bool(r.active)) for r in rows]


def _must_plan(actor: Actor) -> None:
    if actor.role is not None and not may(actor.role, Permission.PLAN_VISITS):
        raise Forbidden("your role may not plan door visits")


def _validate_team(conn: Connection, team: TeamInput) -> list[Issue]:
    issues: list[Issue] = []

    def bad(column: str, reason: str) -> None:
        issues.append(Issue("team", None, column, reason))

    if not _TEAM_ID.match(team.team_id):
        bad("team_id", "1 to 32 letters, digits, - or _")
    if not team.name or len(team.name) > 64:
        bad("name", "give the team a name (at most 64 characters)")
    if not team.home_label:
        bad("home_label", "name the home branch")
    if not Decimal(-90) <= team.home_latitude <= Decimal(90):
        bad("home_latitude", "a latitude between -90 and 90")
    if not Decimal(-180) <= team.home_longitude <= Decimal(180):
        bad("home_longitude", "a longitude between -180 and 180")
    if team.shift_start >= team.shift_end:
        bad("shift_end", "the shift must end after it starts (same day)")
    if not 1 <= team.capacity <= MAX_CAPACITY:
        bad("capacity", f"between 1 and {MAX_CAPACITY} visits per day")
    if len(team.members) != TEAM_SIZE or len(set(team.members)) != TEAM_SIZE:
        bad("members", "a team is exactly two different field agents (CN-V1)")
    u = d.users
    found = {
        r.user_id: r
        for r in conn.execute(
            select(u.c.user_id, u.c.username, u.c.role, u.c.active).where(
                u.c.user_id.in_(list(team.members))
            )
        )
    }
    for uid in dict.fromkeys(team.members):
        user = found.get(uid)
        if user is None:
            bad("members", f"no user {uid}")
        elif user.role != Role.FIELD_AGENT.value or not user.active:
            bad("members", f"{user.username} is not an active field agent")
    if team.active and team.members:
        ft, m = vt.field_teams, vt.field_team_members
        taken = conn.execute(
            select(m.c.user_id, ft.c.team_id)
            .join(ft, ft.c.team_id == m.c.team_id)
            .where(
                m.c.user_id.in_(list(team.members)),
                ft.c.active.is_(True),
                ft.c.team_id != team.team_id,
            )
        ).all()
        for r in taken:
            name = found[r.user_id].username if r.user_id in found else r.user_id
            bad("members", f"{name} is already in team {r.team_id}")
    return issues


def _team_values(team: TeamInput) -> dict[str, Any]:
    return {
        "name": team.name,
        "home_label": team.home_label,
        "home_latitude": team.home_latitude,
        "home_longitude": team.home_longitude,
        "shift_start": team.shift_start,
        "shift_end": team.shift_end,
        "capacity": team.capacity,
        "territory": ",".join(team.territory),
        "active": team.active,
    }


def _set_members(conn: Connection, team: TeamInput) -> None:
    m = vt.field_team_members
    conn.execute(delete(m).where(m.c.team_id == team.team_id))
    conn.execute(insert(m), [{"team_id": team.team_id, "user_id": u} for u in team.members])


def create_team(conn: Connection, actor: Actor, team: TeamInput, now: datetime) -> str:
    """A new field team (validated; audited). Conflict when the id is taken."""
    _must_plan(actor)
    issues = _validate_team(conn, team)
    if issues:
        raise ValidationError(issues)
    ft = vt.field_teams
    if conn.execute(select(ft.c.team_id).where(ft.c.team_id == team.team_id)).first():
        raise Conflict(f"team {team.team_id} exists already")
    conn.execute(insert(ft).values(team_id=team.team_id, created_at=now, **_team_values(team)))
    _set_members(conn, team)
    record(conn, actor, "create_field_team", "field_team", team.team_id, now, detail=_audit(team))
    return team.team_id


def update_team(conn: Connection, actor: Actor, team: TeamInput, now: datetime) -> str:
    """Change a field team (validated; audited). NotFound for an unknown id."""
    _must_plan(actor)
    ft = vt.field_teams
    if conn.execute(select(ft.c.team_id).where(ft.c.team_id == team.team_id)).first() is None:
        raise NotFound(f"no field team {team.team_id}")
    issues = _validate_team(conn, team)
    if issues:
        raise ValidationError(issues)
    conn.execute(update(ft).where(ft.c.team_id == team.team_id).values(**_team_values(team)))
    _set_members(conn, team)
    record(conn, actor, "update_field_team", "field_team", team.team_id, now, detail=_audit(team))
    return team.team_id


def save_team(conn: Connection, actor: Actor, team: TeamInput, now: datetime) -> str:
    """Create the team, or update it when its id exists."""
    ft = vt.field_teams
    known = conn.execute(select(ft.c.team_id).where(ft.c.team_id == team.team_id)).first()
    return (update_team if known else create_team)(conn, actor, team, now)


def _audit(team: TeamInput) -> dict[str, Any]:
    return {
        "name": team.name,
        "home": [str(team.home_latitude), str(team.home_longitude)],
        "shift": f"{team.shift_start:%H:%M}-{team.shift_end:%H:%M}",
        "capacity": team.capacity,
        "territory": list(team.territory),
        "members": list(team.members),
        "active": team.active,
    }


# --------------------------------------------------------------------------------------------
# Requests


def _dues(conn: Connection, borrower_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """borrower → (amount due now in minor units, days past due) at the last cycle."""
    s = t.status_history
    last = conn.execute(select(func.max(s.c.as_of))).scalar()
    if last is None or not borrower_ids:
        return {}
    out: dict[str, tuple[int, int]] = {}
    ids = list(dict.fromkeys(borrower_ids))
    for start in range(0, len(ids), 500):
        for r in conn.execute(
            select(
                s.c.borrower_id,
                func.sum(s.c.total_due_now_minor).label("due"),
                func.max(s.c.dpd).label("dpd"),
            )
            .where(s.c.as_of == last, s.c.borrower_id.in_(ids[start : start + 500]))
            .group_by(s.c.borrower_id)
        ):
            out[r.borrower_id] = (int(r.due or 0), int(r.dpd or 0))
    return out


def _priority_minor(due_minor: int, dpd: int) -> int:
    value = visit_priority(Decimal(due_minor).scaleb(-2), dpd)
    return int(value.scaleb(2).to_integral_value())


def _open_request(conn: Connection, borrower_ids: Sequence[str]) -> dict[str, int]:
    v = vt.visit_requests.c
    out: dict[str, int] = {}
    ids = list(dict.fromkeys(borrower_ids))
    for start in range(0, len(ids), 500):
        for r in conn.execute(
            select(v.borrower_id, func.min(v.visit_id))
            .where(v.borrower_id.in_(ids[start : start + 500]), v.status.in_(OPEN_STATUSES))
            .group_by(v.borrower_id)
        ):
            out[r[0]] = int(r[1])
    return out


def request_visit(
    conn: Connection,
    actor: Actor,
    borrower_id: str,
    *,
    reason: str,
    now: datetime,
    today: date,
    source: str = "manual",
    loan_id: str | None = None,
    window: tuple[time, time] | None = None,
    duration_min: int = DEFAULT_DURATION_MIN,
) -> int:
    """Ask for a door visit to an account: scope checked, validated, audited; its id.

    A manual request (a manager or a collector) needs a reason; an account with an open
    request gets no second one (Conflict). ``today`` is the lender-local business date (kept
    in the audit row)."""
    try:
        kind = Source(source)
    except ValueError:
        raise ValidationError([Issue(_SRC, None, "source", f"unknown source {source!r}")]) from None
    if actor.role is not None and not may(actor.role, Permission.REQUEST_VISITS):
        raise Forbidden("your role may not request door visits")
    if kind is Source.MANUAL and actor.role is None:
        raise Forbidden("a manual visit request is made by a person")
    check_account(conn, actor, borrower_id)
    text = (reason or "").strip()
    issues: list[Issue] = []
    if len(text) < 3:
        issues.append(Issue(_SRC, None, "reason", "say why the visit is needed (3+ characters)"))
    elif len(text) > 2000:
        issues.append(Issue(_SRC, None, "reason", "at most 2000 characters"))
    if not MIN_DURATION_MIN <= duration_min <= MAX_DURATION_MIN:
        issues.append(
            Issue(
                _SRC,
                None,
                "duration_min",
                f"between {MIN_DURATION_MIN} and {MAX_DURATION_MIN} minutes",
            )
        )
    if window is not None and window[0] >= window[1]:
        issues.append(Issue(_SRC, None, "window_end", "must be after the start"))
    if loan_id is not None:
        lo = t.loans.c
        owner = conn.execute(select(lo.borrower_id).where(lo.loan_id == loan_id)).scalar()
        if owner != borrower_id:
            issues.append(Issue(_SRC, None, "loan_id", f"{loan_id} is not this account's"))
    if issues:
        raise ValidationError(issues)
    existing = _open_request(conn, [borrower_id])
    if borrower_id in existing:
        raise Conflict(
            f"account {borrower_id} already has an open visit request (#{existing[borrower_id]})"
        )
    due, dpd = _dues(conn, [borrower_id]).get(borrower_id, (0, 0))
    visit_id = _insert(
        conn, borrower_id, loan_id, kind, text, actor.name, now, _priority_minor(due, dpd),
        window, duration_min,
    )  # fmt: skip
    record(
        conn,
        actor,
        "request_visit",
        "borrower",
        borrower_id,
        now,
        reason=text if kind is Source.MANUAL else None,
        detail={"visit_id": visit_id, "source": kind.value, "on": today.isoformat()},
    )
    return visit_id


def _insert(
    conn: Connection,
    borrower_id: str,
    loan_id: str | None,
    source: Source,
    reason: str,
    requested_by: str,
    now: datetime,
    priority_minor: int,
    window: tuple[time, time] | None,
    duration_min: int,
) -> int:
    result = conn.execute(
        insert(vt.visit_requests).values(
            borrower_id=borrower_id,
            loan_id=loan_id,
            source=source.value,
            reason=reason,
            requested_by=requested_by[:64],
            requested_at=now,
            priority_minor=priority_minor,
            window_start=window[0] if window else None,
            window_end=window[1] if window else None,
            duration_min=duration_min,
            status=VisitStatus.REQUESTED.value,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def request_strategy_visits(
    conn: Connection,
    proposals: Sequence[Mapping[str, Any]],
    due_minor: Mapping[str, int],
    now: datetime,
    today: date,
) -> int:
    """Visit requests for the day's allowed ``door_visit`` proposals (PROPOSAL_SCHEMA rows):
    one per account, none for an account with an open request. ``due_minor``: each account's
    amount due now. Returns how many were created (one audit row for the batch)."""
    wanted: dict[str, Mapping[str, Any]] = {}
    for p in proposals:
        if p.get("action") == "door_visit" and p.get("channel") == "visit":
            wanted.setdefault(str(p["borrower_id"]), p)
    if not wanted:
        return 0
    existing = _open_request(conn, list(wanted))
    lo = t.loans.c
    loans = {
        r.loan_id
        for r in conn.execute(
            select(lo.loan_id).where(
                lo.loan_id.in_([str(p["loan_id"]) for p in wanted.values() if p.get("loan_id")])
            )
        )
    }
    created = 0
    for borrower, p in wanted.items():
        if borrower in existing:
            continue
        segment = str(p.get("segment") or "")
        kind = Source.BROKEN_PROMISE if segment in BROKEN_PROMISE_SEGMENTS else Source.STRATEGY
        loan = str(p["loan_id"]) if p.get("loan_id") in loans else None
        dpd = int(p.get("dpd") or 0)
        reason = str(p.get("reason") or f"segment {segment}: door_visit")
        priority = _priority_minor(int(due_minor.get(borrower, 0)), dpd)
        _insert(
            conn, borrower, loan, kind, reason, BATCH_ACTOR.name, now, priority, None,
            DEFAULT_DURATION_MIN,
        )  # fmt: skip
        created += 1
    record(
        conn,
        BATCH_ACTOR,
        "request_visits",
        "visit_queue",
        today.isoformat(),
        now,
        detail={"created": created, "proposals": len(wanted), "already_open": len(existing)},
    )
    return created


@dataclass(frozen=True, slots=True)
class RequestRow:
    visit_id: int
    borrower_id: str
    source: str
    reason: str
    requested_by: str
    requested_at: datetime
    priority_minor: int
    window_start: time | None
    window_end: time | None
    duration_min: int
    pinned_team: str | None
    status: str
    planned_day: date | None
    team_id: str | None
    seq: int | None
    planned_start: datetime | None
    unplanned_reason: str | None


def list_requests(
    conn: Connection, statuses: Sequence[str] = OPEN_STATUSES, limit: int = 500
) -> list[RequestRow]:
    """The visit queue: requests in ``statuses``, highest priority first."""
    v = vt.visit_requests.c
    rows = conn.execute(
        select(*[v[f] for f in RequestRow.__dataclass_fields__])
        .where(v.status.in_(list(statuses)))
        .order_by(v.priority_minor.desc(), v.visit_id)
        .limit(limit)
    )
    return [RequestRow(**r._mapping) for r in rows]


def pin_visit(
    conn: Connection, actor: Actor, visit_id: int, team_id: str | None, now: datetime
) -> None:
    """Pin an open visit to a team (``None`` removes the pin); applies at the next plan."""
    _must_plan(actor)
    v = vt.visit_requests.c
    row = conn.execute(select(v.status).where(v.visit_id == visit_id)).first()
    if row is None:
        raise NotFound(f"no visit {visit_id}")
    if row.status not in (VisitStatus.REQUESTED.value, VisitStatus.PLANNED.value):
        raise ValidationError([Issue(_SRC, None, "visit_id", f"visit {visit_id} is {row.status}")])
    if team_id is not None:
        ft = vt.field_teams.c
        active = conn.execute(select(ft.active).where(ft.team_id == team_id)).scalar()
        if not active:
            raise ValidationError([Issue(_SRC, None, "team_id", f"no active team {team_id}")])
    conn.execute(
        update(vt.visit_requests).where(v.visit_id == visit_id).values(pinned_team=team_id)
    )
    record(conn, actor, "pin_visit", "visit", str(visit_id), now, detail={"team": team_id})


def lock_route(conn: Connection, actor: Actor, day: date, team_id: str, now: datetime) -> None:
    """Keep the team's route of ``day`` as it is when the day is planned again."""
    _must_plan(actor)
    ft = vt.field_teams.c
    if conn.execute(select(ft.team_id).where(ft.team_id == team_id)).first() is None:
        raise NotFound(f"no field team {team_id}")
    lk = vt.route_locks
    conn.execute(delete(lk).where(lk.c.planned_day == day, lk.c.team_id == team_id))
    conn.execute(
        insert(lk).values(
            planned_day=day, team_id=team_id, locked_by=actor.name[:64], locked_at=now
        )
    )
    record(conn, actor, "lock_route", "field_team", team_id, now, detail={"day": day.isoformat()})


def unlock_route(conn: Connection, actor: Actor, day: date, team_id: str, now: datetime) -> None:
    _must_plan(actor)
    lk = vt.route_locks
    conn.execute(delete(lk).where(lk.c.planned_day == day, lk.c.team_id == team_id))
    record(conn, actor, "unlock_route", "field_team", team_id, now, detail={"day": day.isoformat()})


# --------------------------------------------------------------------------------------------
# Planning


@dataclass
class PlanOutcome:
    """What :func:`plan_visits` did. ``problem`` / ``plan``: the final domain problem (without
    the visits the gate blocked) and plan, for :func:`arrears.domain.routing.check_plan`;
    ``problems``: what that check found (empty when the plan is feasible)."""

    day: date
    planned: dict[int, str] = field(default_factory=dict)  # visit → team
    unplanned: dict[int, str] = field(default_factory=dict)  # visit → reason code
    decisions: dict[int, int] = field(default_factory=dict)  # visit → gate decision
    problem: RoutingProblem | None = None
    plan: RoutePlan | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _visiting_hours(pack: Pack) -> ClockWindow:
    try:
        return pack.window("CN-T2", "visit_hours")
    except KeyError:
        return FALLBACK_HOURS


def _district(address: str | None, city: str | None) -> str | None:
    """The district of a Chinese address (``上海市浦东新区世纪大道…`` → ``浦东新区``)."""
    if not address:
        return None
    rest = address[len(city) :] if city and address.startswith(city) else address
    found = re.match(r"^(.{1,8}?[区县])", rest)
    return found.group(1) if found else None


def _candidates(conn: Connection, day: date, today: date) -> list[Any]:
    """Open requests the day may take: waiting; planned for this day; planned for a past day
    and never started (missed)."""
    v = vt.visit_requests.c
    return list(
        conn.execute(
            select(vt.visit_requests)
            .where(
                or_(
                    v.status == VisitStatus.REQUESTED.value,
                    and_(
                        v.status == VisitStatus.PLANNED.value,
                        or_(v.planned_day == day, v.planned_day < today),
                    ),
                )
            )
            .order_by(v.visit_id)
        )
    )


def plan_visits(
    conn: Connection,
    actor: Actor,
    day: date,
    now: datetime,
    settings: PlannerSettings,
    lender_tz: str,
    pack: Pack,
) -> PlanOutcome:
    """Plan ``day``: choose and order each ready team's visits, ask the gate for every stop,
    store the plan (see the module docstring). ``actor``: a manager, or a system (the CLI)."""
    _must_plan(actor)
    zone = ZoneInfo(lender_tz)
    today = now.astimezone(zone).date()
    if day < today:
        raise ValidationError([Issue(_SRC, None, "day", f"{day} is in the past")])
    out = PlanOutcome(day)
    rows = _candidates(conn, day, today)
    by_id = {int(r.visit_id): r for r in rows}
    teams_all = list_teams(conn, active_only=True)
    now_secs = _secs(now.astimezone(zone).time()) if day == today else 0
    ready: dict[str, FieldTeam] = {}
    domain_teams: list[Team] = []
    for ft in teams_all:
        start = max(_secs(ft.shift_start), -(-now_secs // 60) * 60)
        if ft.ready and start < _secs(ft.shift_end):
            ready[ft.team_id] = ft
            domain_teams.append(ft.domain(start))
    points = visit_points(conn, actor, sorted({r.borrower_id for r in rows}), now, "visit_planning")
    hours = _visiting_hours(pack)
    visits: list[VisitRequest] = []
    for vid, r in by_id.items():
        code = _exclusion(r, points.get(r.borrower_id), ready)
        if code is not None:
            out.unplanned[vid] = code
            continue
        ws = _secs(r.window_start) if r.window_start else 0
        we = _secs(r.window_end) if r.window_end else 24 * 3600
        window = clip_window(ws, we, hours)
        if window is None or window[1] - window[0] < r.duration_min * 60:
            out.unplanned[vid] = UnplannedCode.OUTSIDE_VISITING_HOURS.value
            continue
        p = points[r.borrower_id]
        visits.append(
            VisitRequest(
                id=str(vid),
                point=Point(float(p.latitude), float(p.longitude)),
                priority=Decimal(int(r.priority_minor)).scaleb(-2),
                window_start=window[0],
                window_end=window[1],
                duration=int(r.duration_min) * 60,
                city=p.city or "",
                district=_district(p.address, p.city),
                pinned_team=r.pinned_team,
            )
        )
    included = {v.id for v in visits}
    lk = vt.route_locks.c
    locked_teams = {
        r.team_id
        for r in conn.execute(select(lk.team_id).where(lk.planned_day == day))
        if r.team_id in ready
    }
    locked = tuple(
        LockedRoute(
            team,
            tuple(
                str(r.visit_id)
                for r in sorted(rows, key=lambda r: (r.seq or 0, r.visit_id))
                if r.status == VisitStatus.PLANNED.value
                and r.planned_day == day
                and r.team_id == team
                and str(r.visit_id) in included
            ),
        )
        for team in sorted(locked_teams)
    )
    if not domain_teams:
        for v in visits:
            out.unplanned[int(v.id)] = UnplannedCode.NO_READY_TEAM.value
        _store(conn, actor, out, by_id, {}, day, now, zone)
        return out
    problem = RoutingProblem(tuple(visits), tuple(domain_teams), HaversineTravel(), locked)
    started = _time.perf_counter()
    plan = plan_day(problem, settings)
    out.seconds = _time.perf_counter() - started
    for u in plan.unplanned:
        out.unplanned[int(u.visit_id)] = u.reason.value
    routes = _gate(conn, problem, plan, ready, points, by_id, out, now, zone, lender_tz, pack)
    blocked = {str(v) for v, code in out.unplanned.items() if code.startswith(GATE_PREFIX)}
    final_problem = RoutingProblem(
        tuple(v for v in problem.visits if v.id not in blocked),
        problem.teams,
        problem.travel,
        tuple(
            LockedRoute(lr.team_id, tuple(x for x in lr.visit_ids if x not in blocked))
            for lr in problem.locked
        ),
    )
    out.problem = final_problem
    out.plan = RoutePlan(tuple(routes), plan.unplanned)
    out.problems = check_plan(final_problem, out.plan)
    svgs = {r.team_id: (r.metres, route_svg(final_problem, r)) for r in routes}
    _store(conn, actor, out, by_id, svgs, day, now, zone)
    return out


def _exclusion(r: Any, point: VisitPoint | None, ready: Mapping[str, FieldTeam]) -> str | None:
    if point is None or point.latitude is None or point.longitude is None:
        return UnplannedCode.NO_COORDINATES.value
    if r.pinned_team is not None and r.pinned_team not in ready:
        return UnplannedCode.PINNED_TEAM_UNAVAILABLE.value
    return None


def _gate(
    conn: Connection,
    problem: RoutingProblem,
    plan: RoutePlan,
    ready: Mapping[str, FieldTeam],
    points: Mapping[str, VisitPoint],
    by_id: Mapping[int, Any],
    out: PlanOutcome,
    now: datetime,
    zone: ZoneInfo,
    lender_tz: str,
    pack: Pack,
) -> list[TeamRoute]:
    """Ask the gate for each planned stop at its planned start (staff: the team's two
    agents); record every decision; drop the blocked stops (the others keep their times)."""
    histories: dict[str, list[HistoryEntry]] = {}
    routes: list[TeamRoute] = []
    for route in plan.routes:
        agents = ready[route.team_id].agents
        kept: list[Stop] = []
        for s in route.stops:
            vid = int(s.visit_id)
            borrower = by_id[vid].borrower_id
            p = points[borrower]
            if borrower not in histories:
                histories[borrower] = history_of(conn, borrower, p.phone, lender_tz)
            attempt = Attempt(
                pack=pack.pack_id,
                channel=Channel.VISIT,
                purpose=Purpose.COLLECTION,
                target=Target(TargetKind.BORROWER, p.address or "", timezone=lender_tz),
                at=_at(out.day, s.start, zone),
                actor=GateActor(ActorKind.COLLECTOR, agents[0]),
                staff=agents,
            )
            decision = decide(attempt, histories[borrower], pack)
            out.decisions[vid] = record_decision(conn, decision, attempt, borrower, now)
            if decision.allowed:
                kept.append(s)
                out.planned[vid] = route.team_id
            else:
                out.unplanned[vid] = (GATE_PREFIX + ",".join(decision.blocked_by))[:64]
        routes.append(_shortened(problem, route, kept))
    return routes


def _shortened(problem: RoutingProblem, route: TeamRoute, kept: list[Stop]) -> TeamRoute:
    if len(kept) == len(route.stops):
        return route
    if not kept:
        return TeamRoute(route.team_id, (), route.departure, route.departure, 0)
    keys = [home_key(route.team_id), *(s.visit_id for s in kept), home_key(route.team_id)]
    metres = sum(problem.travel_between(a, b)[1] for a, b in pairwise(keys))
    return TeamRoute(route.team_id, tuple(kept), route.departure, route.return_home, metres)


def _store(
    conn: Connection,
    actor: Actor,
    out: PlanOutcome,
    by_id: Mapping[int, Any],
    svgs: Mapping[str, tuple[int, str]],
    day: date,
    now: datetime,
    zone: ZoneInfo,
) -> None:
    v = vt.visit_requests
    seqs: dict[int, tuple[str, int, Stop]] = {}
    if out.plan is not None:
        for r in out.plan.routes:
            for i, s in enumerate(r.stops, start=1):
                seqs[int(s.visit_id)] = (r.team_id, i, s)
    for vid in by_id:
        if vid in seqs:
            team, seq, s = seqs[vid]
            values: dict[str, Any] = {
                "status": VisitStatus.PLANNED.value,
                "planned_day": day,
                "team_id": team,
                "seq": seq,
                "planned_start": _at(day, s.start, zone),
                "planned_end": _at(day, s.end, zone),
                "unplanned_reason": None,
                "schedule_decision_id": out.decisions.get(vid),
            }
        else:
            values = {
                "status": VisitStatus.REQUESTED.value,
                "planned_day": day,
                "team_id": None,
                "seq": None,
                "planned_start": None,
                "planned_end": None,
                "unplanned_reason": out.unplanned.get(vid, "not_fitted"),
                "schedule_decision_id": out.decisions.get(vid),
            }
        conn.execute(update(v).where(v.c.visit_id == vid).values(**values))
    dp = vt.day_plans
    conn.execute(delete(dp).where(dp.c.planned_day == day))
    if svgs:
        conn.execute(
            insert(dp),
            [
                {
                    "planned_day": day,
                    "team_id": team,
                    "planned_at": now,
                    "planned_by": actor.name[:64],
                    "distance_m": metres,
                    "svg": svg,
                    "solver_seconds": round(out.seconds, 3),
                }
                for team, (metres, svg) in svgs.items()
            ],
        )
    record(
        conn,
        actor,
        "plan_visits",
        "visit_day",
        day.isoformat(),
        now,
        detail={
            "planned": len(out.planned),
            "unplanned": len(out.unplanned),
            "teams": sorted(svgs),
            "seconds": round(out.seconds, 3),
        },
    )


# --------------------------------------------------------------------------------------------
# Views


@dataclass(frozen=True, slots=True)
class PlanStop:
    visit_id: int
    borrower_id: str
    seq: int
    planned_start: datetime
    planned_end: datetime
    priority_minor: int
    source: str
    reason: str
    status: str
    pinned_team: str | None


@dataclass(frozen=True, slots=True)
class RouteSummary:
    team_id: str
    team_name: str
    agents: tuple[str, ...]
    locked: bool
    distance_m: int | None
    svg: str
    planned_at: datetime | None
    planned_by: str | None
    solver_seconds: float | None
    stops: list[PlanStop]


@dataclass(frozen=True, slots=True)
class UnplannedRow:
    visit_id: int
    borrower_id: str
    priority_minor: int
    source: str
    reason: str
    code: str


@dataclass(frozen=True, slots=True)
class DayPlanView:
    day: date
    routes: list[RouteSummary]
    unplanned: list[UnplannedRow]


def day_plan(conn: Connection, day: date) -> DayPlanView:
    """The day's routes per team (stops in order, map, lock) and the unplanned visits with
    their reasons — the manager's view (no personal data: account ids only)."""
    v = vt.visit_requests.c
    rows = conn.execute(
        select(vt.visit_requests).where(v.planned_day == day).order_by(v.team_id, v.seq)
    ).all()
    dp = vt.day_plans.c
    plans = {r.team_id: r for r in conn.execute(select(vt.day_plans).where(dp.planned_day == day))}
    lk = vt.route_locks.c
    locks = {r.team_id for r in conn.execute(select(lk.team_id).where(lk.planned_day == day))}
    teams = {ft.team_id: ft for ft in list_teams(conn)}
    stops: dict[str, list[PlanStop]] = {}
    unplanned: list[UnplannedRow] = []
    for r in rows:
        if r.team_id is not None and r.status != VisitStatus.REQUESTED.value:
            stop = PlanStop(
                r.visit_id, r.borrower_id, r.seq or 0, r.planned_start, r.planned_end,
                r.priority_minor, r.source, r.reason, r.status, r.pinned_team,
            )  # fmt: skip
            stops.setdefault(r.team_id, []).append(stop)
        elif r.status == VisitStatus.REQUESTED.value:
            row = UnplannedRow(
                r.visit_id, r.borrower_id, r.priority_minor, r.source, r.reason,
                r.unplanned_reason or "",
            )  # fmt: skip
            unplanned.append(row)
    routes = []
    for team_id in sorted(set(plans) | set(stops) | (locks & set(teams))):
        ft = teams.get(team_id)
        pl = plans.get(team_id)
        routes.append(
            RouteSummary(
                team_id=team_id,
                team_name=ft.name if ft else team_id,
                agents=ft.agents if ft else (),
                locked=team_id in locks,
                distance_m=pl.distance_m if pl else None,
                svg=pl.svg if pl else "",
                planned_at=pl.planned_at if pl else None,
                planned_by=pl.planned_by if pl else None,
                solver_seconds=pl.solver_seconds if pl else None,
                stops=sorted(stops.get(team_id, []), key=lambda s: s.seq),
            )
        )
    unplanned.sort(key=lambda u: (-u.priority_minor, u.visit_id))
    return DayPlanView(day, routes, unplanned)


@dataclass(frozen=True, slots=True)
class RouteStop:
    visit_id: int
    borrower_id: str
    seq: int
    planned_start: datetime
    planned_end: datetime
    name: str | None
    address: str | None
    phone: str | None
    latitude: Decimal | None
    longitude: Decimal | None
    amount_due_minor: int
    dpd: int
    reason: str
    status: str


@dataclass(frozen=True, slots=True)
class TeamRouteView:
    team_id: str
    team_name: str
    day: date
    agents: tuple[str, ...]
    stops: list[RouteStop]
    svg: str


_ROUTE_STATUSES = (VisitStatus.PLANNED.value, VisitStatus.STARTED.value, VisitStatus.DONE.value)


def _stops(conn: Connection, actor: Actor, rows: Sequence[Any], now: datetime) -> list[RouteStop]:
    points = visit_points(conn, actor, [r.borrower_id for r in rows], now, "route_sheet")
    dues = _dues(conn, [r.borrower_id for r in rows])
    out = []
    for r in rows:
        p = points.get(r.borrower_id)
        if p is None:
            raise NotFound(f"no visit {r.visit_id}")
        due, dpd = dues.get(r.borrower_id, (0, 0))
        out.append(
            RouteStop(
                visit_id=r.visit_id,
                borrower_id=r.borrower_id,
                seq=r.seq or 0,
                planned_start=r.planned_start,
                planned_end=r.planned_end,
                name=p.name,
                address=p.address,
                phone=p.phone,
                latitude=p.latitude,
                longitude=p.longitude,
                amount_due_minor=due,
                dpd=dpd,
                reason=r.reason,
                status=r.status,
            )
        )
    return out


def _my_team(conn: Connection, actor: Actor) -> FieldTeam | None:
    if actor.user_id is None:
        return None
    m = vt.field_team_members.c
    ids = [r[0] for r in conn.execute(select(m.team_id).where(m.user_id == actor.user_id))]
    teams = [ft for ft in list_teams(conn, active_only=True) if ft.team_id in ids]
    return teams[0] if teams else None


def route_for(
    conn: Connection, actor: Actor, day: date, now: datetime | None = None
) -> TeamRouteView | None:
    """The field agent's team's planned stops for ``day`` in order (None: not in an active
    team). Name, address and phone unmasked through ``services.access`` (audited, purpose
    ``route_sheet``). ``now``: the audit time (default: the first stop's planned start)."""
    if actor.role is None or not may(actor.role, Permission.VIEW_ROUTE):
        raise Forbidden("your role has no route sheet")
    team = _my_team(conn, actor)
    if team is None:
        return None
    v = vt.visit_requests.c
    rows = conn.execute(
        select(vt.visit_requests)
        .where(v.planned_day == day, v.team_id == team.team_id, v.status.in_(_ROUTE_STATUSES))
        .order_by(v.seq)
    ).all()
    dp = vt.day_plans.c
    svg = conn.execute(
        select(dp.svg).where(dp.planned_day == day, dp.team_id == team.team_id)
    ).scalar()
    when = now or (rows[0].planned_start if rows else datetime.combine(day, time.min))
    stops = _stops(conn, actor, rows, when) if rows else []
    return TeamRouteView(team.team_id, team.name, day, team.agents, stops, svg or "")


def visit_for(
    conn: Connection, actor: Actor, visit_id: int, now: datetime | None = None
) -> RouteStop:
    """One planned visit with the borrower's details (unmasked, audited). Scope: the members
    of the visit's team, and managers; anyone else gets NotFound."""
    v = vt.visit_requests.c
    row = conn.execute(select(vt.visit_requests).where(v.visit_id == visit_id)).first()
    if row is None or actor.role is None:
        raise NotFound(f"no visit {visit_id}")
    manager = may(actor.role, Permission.PLAN_VISITS) or may(
        actor.role, Permission.VIEW_VISIT_REPORTS
    )
    if not manager:
        m = vt.field_team_members.c
        member = conn.execute(
            select(m.user_id).where(m.team_id == row.team_id, m.user_id == actor.user_id)
        ).first()
        if row.team_id is None or member is None or row.status not in _ROUTE_STATUSES:
            raise NotFound(f"no visit {visit_id}")
    when = now or row.planned_start or row.requested_at
    return _stops(conn, actor, [row], when)[0]
