"""Door-to-door collection visits for one day: the problem, the plan, and an independent check.

A day's routing problem is a set of **teams** (field agents in pairs; each team has a home
branch where its route starts and ends, a shift, a capacity in visits per day and a territory)
and a set of **visit requests** (a borrower's coordinates, a time window, a visit duration and
a priority). A **plan** gives each team an ordered list of stops with times and lists the
visits that were not planned, each with a reason code. The solver lives in
``arrears.engine.routing``; this module is pure (standard library only) and holds what the
solver and its tests share: the data, the travel-time model, the schedule of a given order,
the reasons, and :func:`check_plan`, which verifies a plan against the problem without
trusting whoever made it.

Units and conventions (one place, used everywhere):

* **Times are integer seconds from local midnight of the plan's day** (``hm("09:30")`` ==
  34200). Windows, shifts and arrival/start/end times use this scale; durations are integer
  seconds. The day and its time zone belong to the caller (services turn these into tz-aware
  datetimes for the route sheet). A window ``[start, end]`` is when the borrower is available:
  the visit must *start and finish* inside it (``start >= window_start`` and
  ``start + duration <= window_end``).
* **Travel** is integer seconds and integer metres between two location keys. A visit's key is
  its id; a team's home is ``home_key(team_id)``. Either :class:`HaversineTravel` (great-circle
  km × a road factor; time = road km / speed, rounded *up* to the second) or
  :class:`MatrixTravel` (a lender's travel-time matrix, by key).
* **Priority** is money (``Decimal``, the book's currency): the expected benefit of the visit,
  ``amount due × chance a visit helps`` (:func:`visit_priority`, table :data:`VISIT_HELP_BY_DPD`).
* **Territory**: a visit is inside a team's territory when its city or its district is one of
  the team's territory names (exact match, case-sensitive). An empty territory means
  "anywhere".
* **Pins**: ``VisitRequest.pinned_team`` means "if this visit is made, this team makes it"
  (the solver also strongly prefers making it). **Locked routes**: the team's route is exactly
  the given order; the solver plans everything else around it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from arrears.domain.errors import Issue, ValidationError

if TYPE_CHECKING:
    from arrears.domain.compliance.model import ClockWindow

__all__ = [
    "EARTH_RADIUS_KM",
    "REASON_TEXT",
    "SECONDS_PER_DAY",
    "VISIT_HELP_BY_DPD",
    "HaversineTravel",
    "LockedRoute",
    "MatrixTravel",
    "Point",
    "Reason",
    "RoutePlan",
    "RoutingProblem",
    "Stop",
    "Team",
    "TeamRoute",
    "Unplanned",
    "VisitRequest",
    "check_plan",
    "clip_window",
    "eligible_teams",
    "haversine_km",
    "hm",
    "home_key",
    "route_svg",
    "schedule_route",
    "solo_trip_fits",
    "unplanned_reason",
    "visit_help_chance",
    "visit_priority",
]

SECONDS_PER_DAY = 24 * 3600
EARTH_RADIUS_KM = 6371.0088  # IUGG mean Earth radius
_SRC = "routing"


def hm(text: str) -> int:
    """``"HH:MM"`` (or ``"HH:MM:SS"``) → seconds from midnight; ``"24:00"`` is allowed."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValidationError([Issue(_SRC, None, "time", f"{text!r} is not HH:MM")])
    h, m, s = (int(p) for p in (*parts, "0")[:3])
    if m > 59 or s > 59 or h * 3600 + m * 60 + s > SECONDS_PER_DAY:
        raise ValidationError([Issue(_SRC, None, "time", f"{text!r} is not a time of day")])
    return h * 3600 + m * 60 + s


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def home_key(team_id: str) -> str:
    """The location key of a team's home branch (visit keys are the visit ids)."""
    return f"home:{team_id}"


# --------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True, slots=True)
class Point:
    """WGS84 latitude and longitude in degrees."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class VisitRequest:
    """One door visit that could be made today. Times: seconds from local midnight."""

    id: str
    point: Point
    priority: Decimal
    window_start: int
    window_end: int
    duration: int
    city: str
    district: str | None = None
    pinned_team: str | None = None


@dataclass(frozen=True, slots=True)
class Team:
    """A pair of field agents: home branch, shift (seconds from midnight), visits per day."""

    id: str
    home: Point
    shift_start: int
    shift_end: int
    capacity: int
    territory: frozenset[str] = frozenset()

    def covers(self, visit: VisitRequest) -> bool:
        """Is ``visit`` inside this team's territory (empty territory: anywhere)?"""
        if not self.territory:
            return True
        return visit.city in self.territory or (
            visit.district is not None and visit.district in self.territory
        )


@dataclass(frozen=True, slots=True)
class LockedRoute:
    """A route a manager fixed: the team makes exactly these visits, in this order."""

    team_id: str
    visit_ids: tuple[str, ...]


def haversine_km(a: Point, b: Point) -> float:
    """Great-circle distance in km on a sphere of radius :data:`EARTH_RADIUS_KM`."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class HaversineTravel:
    """Road km = great-circle km × ``road_factor``; seconds = road km / ``speed_kmh``, rounded
    up. Both values are settings passed in (e.g. 1.3 and 25 km/h for city traffic)."""

    road_factor: float = 1.3
    speed_kmh: float = 25.0

    def between(self, a: Point, b: Point) -> tuple[int, int]:
        """(seconds, metres) from ``a`` to ``b``."""
        km = haversine_km(a, b) * self.road_factor
        return math.ceil(km * 3600 / self.speed_kmh - 1e-9), round(km * 1000)


@dataclass(frozen=True, slots=True)
class MatrixTravel:
    """A supplied matrix by location key: ``seconds[(from, to)]`` and optionally ``metres``.
    Without metres, the solver's travel cost is the time (1 s counts as 1 m). Missing pairs
    are an error when the problem is built; ``(k, k)`` is 0."""

    seconds: Mapping[tuple[str, str], int]
    metres: Mapping[tuple[str, str], int] | None = None


Travel = HaversineTravel | MatrixTravel


@dataclass(frozen=True, slots=True)
class RoutingProblem:
    """One day's visits and teams (validated on construction: every issue named at once)."""

    visits: tuple[VisitRequest, ...]
    teams: tuple[Team, ...]
    travel: Travel = field(default_factory=HaversineTravel)
    locked: tuple[LockedRoute, ...] = ()

    def __post_init__(self) -> None:
        issues = _validate(self)
        if issues:
            raise ValidationError(issues)

    # lookups (linear scans are fine at a day's scale; the engine builds its own indexes)
    def visit(self, visit_id: str) -> VisitRequest:
        return _by_id(self.visits, visit_id)

    def team(self, team_id: str) -> Team:
        return _by_id(self.teams, team_id)

    def point(self, key: str) -> Point:
        if key.startswith("home:"):
            return self.team(key[5:]).home
        return self.visit(key).point

    def keys(self) -> list[str]:
        """Every location key: the team homes, then the visits."""
        return [home_key(t.id) for t in self.teams] + [v.id for v in self.visits]

    def travel_between(self, a: str, b: str) -> tuple[int, int]:
        """(seconds, metres) from location key ``a`` to ``b``."""
        if a == b:
            return 0, 0
        t = self.travel
        if isinstance(t, HaversineTravel):
            return t.between(self.point(a), self.point(b))
        secs = t.seconds[(a, b)]
        return secs, (t.metres[(a, b)] if t.metres is not None else secs)

    def travel_seconds(self, a: str, b: str) -> int:
        return self.travel_between(a, b)[0]

    def locked_for(self, team_id: str) -> LockedRoute | None:
        return next((lr for lr in self.locked if lr.team_id == team_id), None)


_T = TypeVar("_T", VisitRequest, Team)


def _by_id(items: Sequence[_T], wanted: str) -> _T:
    for item in items:
        if item.id == wanted:
            return item
    raise KeyError(wanted)


def _validate(p: RoutingProblem) -> list[Issue]:
    issues: list[Issue] = []

    def bad(what: str, column: str, reason: str) -> None:
        issues.append(Issue(_SRC, None, column, f"{what}: {reason}"))

    team_ids = [t.id for t in p.teams]
    visit_ids = [v.id for v in p.visits]
    for kind, ids in (("team", team_ids), ("visit", visit_ids)):
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            bad(f"{kind} {dup}", "id", "appears more than once")
    for t in p.teams:
        if not 0 <= t.shift_start < t.shift_end <= SECONDS_PER_DAY:
            bad(f"team {t.id}", "shift", "shift must be a non-empty span within the day")
        if t.capacity < 0:
            bad(f"team {t.id}", "capacity", "must not be negative")
        if not _valid_point(t.home):
            bad(f"team {t.id}", "home", f"not a latitude/longitude: {t.home}")
    known_teams = set(team_ids)
    for v in p.visits:
        if not 0 <= v.window_start < v.window_end <= SECONDS_PER_DAY:
            bad(f"visit {v.id}", "window", "window must be a non-empty span within the day")
        if v.id.startswith("home:"):
            bad(f"visit {v.id}", "id", "'home:' is reserved for team homes")
        if v.duration < 0:
            bad(f"visit {v.id}", "duration", "must not be negative")
        if v.priority < 0:
            bad(f"visit {v.id}", "priority", "must not be negative")
        if not _valid_point(v.point):
            bad(f"visit {v.id}", "point", f"not a latitude/longitude: {v.point}")
        if v.pinned_team is not None and v.pinned_team not in known_teams:
            bad(f"visit {v.id}", "pinned_team", f"no team {v.pinned_team!r}")
    known_visits = set(visit_ids)
    seen: dict[str, str] = {}
    locked_teams: list[str] = []
    for lr in p.locked:
        locked_teams.append(lr.team_id)
        if lr.team_id not in known_teams:
            bad(f"locked route of {lr.team_id}", "team_id", "no such team")
        for vid in lr.visit_ids:
            if vid not in known_visits:
                bad(f"locked route of {lr.team_id}", "visit_ids", f"no visit {vid!r}")
            elif vid in seen:
                bad(f"locked route of {lr.team_id}", "visit_ids", f"{vid} is also on {seen[vid]}")
            else:
                seen[vid] = lr.team_id
    for dup in sorted({t for t in locked_teams if locked_teams.count(t) > 1}):
        bad(f"team {dup}", "locked", "has more than one locked route")
    if isinstance(p.travel, MatrixTravel):
        keys = [home_key(t) for t in team_ids] + visit_ids
        missing = [(a, b) for a in keys for b in keys if a != b and (a, b) not in p.travel.seconds]
        if missing:
            bad("travel matrix", "seconds", f"{len(missing)} pair(s) missing, e.g. {missing[0]}")
        negative = [k for k, s in p.travel.seconds.items() if s < 0]
        if negative:
            bad("travel matrix", "seconds", f"negative travel time for {negative[0]}")
    if not isinstance(p.travel, MatrixTravel) and (
        p.travel.road_factor <= 0 or p.travel.speed_kmh <= 0
    ):
        bad("travel", "settings", "road factor and speed must be positive")
    return issues


def _valid_point(pt: Point) -> bool:
    return -90.0 <= pt.lat <= 90.0 and -180.0 <= pt.lon <= 180.0


# --------------------------------------------------------------------------------------------
# Plans


@dataclass(frozen=True, slots=True)
class Stop:
    """One visit on a route; times in seconds from midnight (``end = start + duration``)."""

    visit_id: str
    arrival: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TeamRoute:
    """A team's day: leave home at ``departure``, the stops in order, home at ``return_home``."""

    team_id: str
    stops: tuple[Stop, ...]
    departure: int
    return_home: int
    metres: int = 0


class Reason(StrEnum):
    """Why a visit is not in the plan (codes; English text in :data:`REASON_TEXT`)."""

    OUTSIDE_TERRITORY = "outside_territory"
    PINNED_TEAM_LOCKED = "pinned_team_locked"
    TEAMS_LOCKED = "teams_locked"
    WINDOW_UNREACHABLE = "window_unreachable"
    CAPACITY_FULL = "capacity_full"
    NOT_FITTED = "not_fitted"


REASON_TEXT: dict[Reason, str] = {
    Reason.OUTSIDE_TERRITORY: (
        "No team's territory covers the visit (or its pinned team's does not)."
    ),
    Reason.PINNED_TEAM_LOCKED: "Pinned to a team whose route is locked without it.",
    Reason.TEAMS_LOCKED: "Every team that covers the visit has a locked route.",
    Reason.WINDOW_UNREACHABLE: (
        "No eligible team can travel from home, make the visit inside its window and be back "
        "before the end of its shift."
    ),
    Reason.CAPACITY_FULL: "Every eligible team already has its full number of visits.",
    Reason.NOT_FITTED: (
        "Could be made alone, but not together with the higher-priority visits planned "
        "(time or travel)."
    ),
}


@dataclass(frozen=True, slots=True)
class Unplanned:
    visit_id: str
    reason: Reason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RoutePlan:
    routes: tuple[TeamRoute, ...]
    unplanned: tuple[Unplanned, ...]

    def route(self, team_id: str) -> TeamRoute | None:
        return next((r for r in self.routes if r.team_id == team_id), None)

    def planned_priority(self, problem: RoutingProblem) -> Decimal:
        return sum(
            (problem.visit(s.visit_id).priority for r in self.routes for s in r.stops),
            Decimal(0),
        )


def schedule_route(problem: RoutingProblem, team: Team, visit_ids: Sequence[str]) -> TeamRoute:
    """Times for visiting ``visit_ids`` in this order: each visit starts as early as possible
    (arrival or window start); the team leaves home as late as it can without delaying the
    first visit (never before its shift starts). Feasibility is :func:`check_plan`'s job."""
    home = home_key(team.id)
    stops: list[Stop] = []
    metres = 0
    t = team.shift_start
    prev = home
    for vid in visit_ids:
        v = problem.visit(vid)
        secs, m = problem.travel_between(prev, vid)
        metres += m
        arrival = t + secs
        start = max(arrival, v.window_start)
        stops.append(Stop(vid, arrival, start, start + v.duration))
        t, prev = start + v.duration, vid
    secs, m = problem.travel_between(prev, home)
    metres += m
    departure = team.shift_start
    if stops:
        # Leave later when the first visit would otherwise wait at the door.
        departure = max(
            team.shift_start, stops[0].start - problem.travel_seconds(home, stops[0].visit_id)
        )
        first = stops[0]
        arrival = departure + problem.travel_seconds(home, first.visit_id)
        stops[0] = Stop(first.visit_id, arrival, first.start, first.end)
    return TeamRoute(team.id, tuple(stops), departure, t + secs, metres)


def solo_trip_fits(problem: RoutingProblem, team: Team, visit: VisitRequest) -> bool:
    """Can ``team`` go home → ``visit`` → home within its shift and the visit's window?"""
    home = home_key(team.id)
    start = max(team.shift_start + problem.travel_seconds(home, visit.id), visit.window_start)
    end = start + visit.duration
    return (
        end <= visit.window_end and end + problem.travel_seconds(visit.id, home) <= team.shift_end
    )


def eligible_teams(problem: RoutingProblem, visit: VisitRequest) -> list[Team]:
    """Teams that may make ``visit``: its pinned team, else every team covering it."""
    if visit.pinned_team is not None:
        team = problem.team(visit.pinned_team)
        return [team] if team.covers(visit) else []
    return [t for t in problem.teams if t.covers(visit)]


def unplanned_reason(
    problem: RoutingProblem, visit: VisitRequest, routes: Sequence[TeamRoute]
) -> tuple[Reason, str]:
    """The most specific reason ``visit`` is not on any of ``routes`` (a plan's routes)."""
    teams = eligible_teams(problem, visit)
    if not teams:
        if visit.pinned_team is not None:
            return Reason.OUTSIDE_TERRITORY, f"pinned team {visit.pinned_team} does not cover it"
        return Reason.OUTSIDE_TERRITORY, f"city {visit.city}, district {visit.district or '-'}"
    open_teams = [t for t in teams if problem.locked_for(t.id) is None]
    if not open_teams:
        if visit.pinned_team is not None:
            return Reason.PINNED_TEAM_LOCKED, f"team {visit.pinned_team} is locked"
        return Reason.TEAMS_LOCKED, ", ".join(t.id for t in teams)
    reachable = [t for t in open_teams if solo_trip_fits(problem, t, visit)]
    if not reachable:
        return Reason.WINDOW_UNREACHABLE, (
            f"window {_clock(visit.window_start)}–{_clock(visit.window_end)}, "
            f"{visit.duration // 60} min"
        )
    by_team = {r.team_id: len(r.stops) for r in routes}
    if all(by_team.get(t.id, 0) >= t.capacity for t in reachable):
        return Reason.CAPACITY_FULL, ", ".join(t.id for t in reachable)
    return Reason.NOT_FITTED, ", ".join(t.id for t in reachable)


# --------------------------------------------------------------------------------------------
# The independent check


def check_plan(problem: RoutingProblem, plan: RoutePlan) -> list[str]:
    """Every way ``plan`` breaks the rules of ``problem``; empty when feasible.

    Each message starts with a code: ``unknown_team``, ``duplicate_route``, ``unknown_visit``,
    ``duplicate_visit``, ``missing_visit``, ``capacity``, ``territory``, ``pinned``,
    ``locked``, ``shift_start``, ``travel``, ``wait``, ``duration``, ``window``, ``shift_end``.
    The stated times are checked as given (not recomputed), so a plan whose times cannot be
    driven is caught too.
    """
    out: list[str] = []
    teams = {t.id: t for t in problem.teams}
    visits = {v.id: v for v in problem.visits}
    placed: dict[str, str] = {}
    route_teams: set[str] = set()

    for r in plan.routes:
        team = teams.get(r.team_id)
        if team is None:
            out.append(f"unknown_team: route for team {r.team_id!r}")
            continue
        if r.team_id in route_teams:
            out.append(f"duplicate_route: team {r.team_id} has more than one route")
        route_teams.add(r.team_id)
        if len(r.stops) > team.capacity:
            out.append(f"capacity: team {team.id} has {len(r.stops)} visits > {team.capacity}")
        if r.stops and r.departure < team.shift_start:
            out.append(
                f"shift_start: team {team.id} leaves at {_clock(r.departure)} "
                f"before its shift {_clock(team.shift_start)}"
            )
        prev_key, prev_time = home_key(team.id), r.departure
        for s in r.stops:
            v = visits.get(s.visit_id)
            if v is None:
                out.append(f"unknown_visit: {s.visit_id!r} on team {team.id}")
                continue
            if s.visit_id in placed:
                out.append(f"duplicate_visit: {v.id} on {placed[v.id]} and {team.id}")
            placed[v.id] = team.id
            if not team.covers(v):
                out.append(f"territory: {v.id} ({v.city}/{v.district}) outside team {team.id}")
            if v.pinned_team is not None and v.pinned_team != team.id:
                out.append(f"pinned: {v.id} is pinned to {v.pinned_team}, planned on {team.id}")
            need = prev_time + problem.travel_seconds(prev_key, v.id)
            if s.arrival < need:
                out.append(
                    f"travel: {v.id} on team {team.id} arrives {_clock(s.arrival)}, "
                    f"cannot be before {_clock(need)}"
                )
            if s.start < s.arrival:
                out.append(f"wait: {v.id} starts before the team arrives")
            if s.end != s.start + v.duration:
                out.append(f"duration: {v.id} lasts {s.end - s.start} s, needs {v.duration} s")
            if s.start < v.window_start or s.end > v.window_end:
                out.append(
                    f"window: {v.id} at {_clock(s.start)}–{_clock(s.end)} outside "
                    f"{_clock(v.window_start)}–{_clock(v.window_end)}"
                )
            prev_key, prev_time = v.id, s.end
        need_home = prev_time + problem.travel_seconds(prev_key, home_key(team.id))
        if r.stops and r.return_home < need_home:
            out.append(
                f"travel: team {team.id} home at {_clock(r.return_home)}, "
                f"cannot be before {_clock(need_home)}"
            )
        if r.stops and max(r.return_home, need_home) > team.shift_end:
            out.append(
                f"shift_end: team {team.id} home at {_clock(max(r.return_home, need_home))} "
                f"after its shift ends {_clock(team.shift_end)}"
            )

    for lr in problem.locked:
        route = plan.route(lr.team_id)
        got = tuple(s.visit_id for s in route.stops) if route else ()
        if got != lr.visit_ids:
            out.append(
                f"locked: team {lr.team_id} route {list(got)} != locked {list(lr.visit_ids)}"
            )

    for u in plan.unplanned:
        if u.visit_id not in visits:
            out.append(f"unknown_visit: unplanned {u.visit_id!r}")
        elif u.visit_id in placed:
            out.append(f"duplicate_visit: {u.visit_id} is both planned and unplanned")
        else:
            placed[u.visit_id] = "unplanned"
    out.extend(
        f"missing_visit: {vid} is neither planned nor listed as unplanned"
        for vid in visits
        if vid not in placed
    )
    return out


# --------------------------------------------------------------------------------------------
# Priority and windows

#: Chance that a door visit helps (leads to a payment or a promise kept), by days past due.
#: A documented, deliberately simple starting estimate — visits help most early in
#: delinquency and fade as accounts age — to be replaced by the lender's measured rates.
#: Rows: (upper bound of DPD inclusive, chance). Above the last bound: the last chance.
VISIT_HELP_BY_DPD: tuple[tuple[int, Decimal], ...] = (
    (0, Decimal("0.00")),  # not past due: no collection visit
    (30, Decimal("0.35")),
    (60, Decimal("0.30")),
    (90, Decimal("0.25")),
    (180, Decimal("0.15")),
    (360, Decimal("0.08")),
    (10**9, Decimal("0.04")),
)


def visit_help_chance(dpd: int) -> Decimal:
    """The chance a visit helps, for an account ``dpd`` days past due (see the table)."""
    for bound, chance in VISIT_HELP_BY_DPD:
        if dpd <= bound:
            return chance
    return VISIT_HELP_BY_DPD[-1][1]


def visit_priority(amount_due: Decimal, dpd: int) -> Decimal:
    """Priority of a visit = amount due × chance a visit helps, to the cent."""
    return (amount_due * visit_help_chance(dpd)).quantize(Decimal("0.01"))


def clip_window(start: int, end: int, hours: ClockWindow) -> tuple[int, int] | None:
    """The borrower's availability ``[start, end]`` (seconds) clipped to the compliance pack's
    visiting hours (e.g. CN-T2 ``visit_hours``); None when nothing is left. Visiting hours that
    wrap past midnight are treated as ending at midnight (no night visits are planned)."""
    h_start = hours.start.hour * 3600 + hours.start.minute * 60 + hours.start.second
    h_end = hours.end.hour * 3600 + hours.end.minute * 60 + hours.end.second
    if h_end <= h_start:
        h_end = SECONDS_PER_DAY
    lo, hi = max(start, h_start), min(end, h_end)
    return (lo, hi) if lo < hi else None


# --------------------------------------------------------------------------------------------
# Map


def route_svg(problem: RoutingProblem, route: TeamRoute, *, size: int = 480) -> str:
    """A static SVG map of one route: home (square), numbered stops, the path in order.
    Equirectangular projection around the route's centre; no tiles (no network)."""
    team = problem.team(route.team_id)
    pts = [team.home] + [problem.visit(s.visit_id).point for s in route.stops]
    lat0 = math.radians(sum(p.lat for p in pts) / len(pts))
    xs = [p.lon * math.cos(lat0) for p in pts]
    ys = [p.lat for p in pts]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    pad = 30
    scale = (size - 2 * pad) / span

    def xy(i: int) -> tuple[float, float]:
        return pad + (xs[i] - min(xs)) * scale, size - pad - (ys[i] - min(ys)) * scale

    path = [xy(i) for i in range(len(pts))] + [xy(0)]
    d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(path))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" role="img" aria-label="route of team {_esc(team.id)}">',
        f'<rect width="{size}" height="{size}" fill="white"/>',
        f'<path d="{d}" fill="none" stroke="#1f77b4" stroke-width="2"/>',
    ]
    hx, hy = xy(0)
    parts.append(f'<rect x="{hx - 6:.1f}" y="{hy - 6:.1f}" width="12" height="12" fill="#d62728"/>')
    for i, s in enumerate(route.stops, start=1):
        x, y = xy(i)
        parts.append(
            f"<g><title>{i}. {_esc(s.visit_id)} {_clock(s.start)}–{_clock(s.end)}</title>"
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="#ff7f0e"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="10" text-anchor="middle">{i}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
