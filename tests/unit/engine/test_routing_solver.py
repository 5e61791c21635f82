"""The day planner on small synthetic days: every plan is checked by the domain's independent
checker, and pins, locks, territories and priorities come out as asked."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest

from arrears.domain.routing import (
    EARTH_RADIUS_KM,
    HaversineTravel,
    LockedRoute,
    MatrixTravel,
    Point,
    Reason,
    RoutePlan,
    RoutingProblem,
    Team,
    VisitRequest,
    check_plan,
    hm,
    home_key,
    solo_trip_fits,
)
from arrears.engine.routing import PlannerSettings, SolverSettings, plan_day

FAST = PlannerSettings(solver=SolverSettings(seconds=0.5, seed=7))
BASE = Point(31.2304, 121.4737)


def _at(north_km: float, east_km: float) -> Point:
    km_per_deg = math.pi * EARTH_RADIUS_KM / 180
    return Point(
        BASE.lat + north_km / km_per_deg,
        BASE.lon + east_km / (km_per_deg * math.cos(math.radians(BASE.lat))),
    )


def _day(seed: int = 3, n: int = 30) -> tuple[list[VisitRequest], list[Team]]:
    rng = random.Random(seed)
    districts = ["Huangpu", "Jingan", "Xuhui", "Pudong"]
    visits = []
    for i in range(n):
        start = rng.choice([hm("09:00"), hm("10:00"), hm("13:00"), hm("15:00")])
        visits.append(
            VisitRequest(
                id=f"v{i:02d}",
                point=_at(rng.uniform(-8, 8), rng.uniform(-8, 8)),
                priority=Decimal(rng.randrange(50, 5000)),
                window_start=start,
                window_end=start + rng.choice([2, 3, 4]) * 3600,
                duration=rng.choice([20, 30, 45]) * 60,
                city="Shanghai",
                district=districts[i % 4],
            )
        )
    teams = [
        Team(
            "west",
            _at(0, -5),
            hm("08:30"),
            hm("18:00"),
            6,
            frozenset({"Huangpu", "Jingan", "Xuhui"}),
        ),
        Team("east", _at(0, 5), hm("08:30"), hm("18:00"), 6, frozenset({"Pudong", "Huangpu"})),
        Team("any", _at(3, 0), hm("12:00"), hm("18:00"), 3),
    ]
    return visits, teams


def _problem(visits: list[VisitRequest], teams: list[Team], **kw: object) -> RoutingProblem:
    return RoutingProblem(tuple(visits), tuple(teams), HaversineTravel(1.3, 25), **kw)  # type: ignore[arg-type]


def _team_of(plan: RoutePlan, visit_id: str) -> str | None:
    for r in plan.routes:
        if any(s.visit_id == visit_id for s in r.stops):
            return r.team_id
    return None


def test_plan_is_feasible_and_fills_the_teams() -> None:
    visits, teams = _day()
    p = _problem(visits, teams)
    plan = plan_day(p, FAST)
    assert check_plan(p, plan) == []
    planned = sum(len(r.stops) for r in plan.routes)
    assert planned >= 10  # 15 slots for 30 requests in a small area: most slots get used
    assert len(plan.unplanned) == len(visits) - planned
    for u in plan.unplanned:
        assert isinstance(u.reason, Reason)


def test_pinned_visit_goes_to_its_team() -> None:
    visits, teams = _day()
    # An afternoon visit in Jingan ("west" and "any" cover it), of low priority, pinned to
    # "any" (whose shift starts at noon).
    k = next(
        i for i, v in enumerate(visits) if v.district == "Jingan" and v.window_start >= hm("13:00")
    )
    vid = visits[k].id
    visits[k] = VisitRequest(**{**_fields(visits[k]), "pinned_team": "any", "priority": Decimal(1)})
    p = _problem(visits, teams)
    plan = plan_day(p, FAST)
    assert check_plan(p, plan) == []
    assert _team_of(plan, vid) == "any"


def test_locked_route_is_kept_and_the_rest_replanned() -> None:
    visits, teams = _day()
    locked = LockedRoute("west", ("v05", "v01", "v02"))
    p = _problem(visits, teams, locked=(locked,))
    plan = plan_day(p, FAST)
    assert check_plan(p, plan) == []
    west = plan.route("west")
    assert west is not None
    assert tuple(s.visit_id for s in west.stops) == locked.visit_ids
    others = {s.visit_id for r in plan.routes if r.team_id != "west" for s in r.stops}
    assert others and not others & set(locked.visit_ids)


def test_visit_outside_every_territory_is_unplanned_with_the_reason() -> None:
    visits, teams = _day()
    teams = teams[:2]  # drop the team that covers anywhere
    visits.append(
        VisitRequest(
            "far", _at(1, 1), Decimal(10**6), hm("09:00"), hm("17:00"), 1800, "Suzhou", "Gusu"
        )
    )
    p = _problem(visits, teams)
    plan = plan_day(p, FAST)
    assert check_plan(p, plan) == []
    reasons = {u.visit_id: u.reason for u in plan.unplanned}
    assert reasons["far"] is Reason.OUTSIDE_TERRITORY


def test_unreachable_window_is_reported() -> None:
    visits, teams = _day(n=8)
    visits.append(
        VisitRequest(
            "dawn", _at(6, 6), Decimal(10**6), hm("08:00"), hm("08:40"), 1800, "Shanghai", "Pudong"
        )
    )
    p = _problem(visits, teams)
    plan = plan_day(p, FAST)
    assert check_plan(p, plan) == []
    assert {u.visit_id: u.reason for u in plan.unplanned}["dawn"] is Reason.WINDOW_UNREACHABLE


def test_high_priority_visit_wins_when_capacity_is_short() -> None:
    # One team, room for 2 visits, 4 equally easy requests: the valuable one must be made,
    # even though it is the farthest from home.
    home = _at(0, 0)
    team = Team("solo", home, hm("08:30"), hm("18:00"), 2)
    visits = [
        VisitRequest(
            f"c{i}", _at(0, 1 + i * 0.2), Decimal(100), hm("09:00"), hm("17:00"), 1800, "Shanghai"
        )
        for i in range(3)
    ]
    visits.append(
        VisitRequest("big", _at(0, -4), Decimal(50_000), hm("09:00"), hm("17:00"), 1800, "Shanghai")
    )
    p = _problem(visits, [team])
    plan = plan_day(p, FAST)
    assert check_plan(p, plan) == []
    route = plan.route("solo")
    assert route is not None and len(route.stops) == 2
    assert "big" in {s.visit_id for s in route.stops}
    assert {u.reason for u in plan.unplanned} == {Reason.CAPACITY_FULL}


def test_supplied_travel_matrix_is_respected() -> None:
    # A matrix saying v2 is 3 hours from everything: it cannot fit in a 4-hour shift with v1.
    team = Team("A", BASE, hm("09:00"), hm("13:00"), 5)
    v1 = VisitRequest("v1", _at(0, 1), Decimal(100), hm("09:00"), hm("13:00"), 1800, "X")
    v2 = VisitRequest("v2", _at(0, 2), Decimal(90), hm("09:00"), hm("13:00"), 1800, "X")
    keys = [home_key("A"), "v1", "v2"]
    secs = {(a, b): (3 * 3600 if "v2" in (a, b) else 600) for a in keys for b in keys if a != b}
    p = RoutingProblem((v1, v2), (team,), MatrixTravel(secs))
    plan = plan_day(p, FAST)
    assert check_plan(p, plan) == []
    assert _team_of(plan, "v1") == "A"
    assert {u.visit_id: u.reason for u in plan.unplanned}["v2"] is Reason.WINDOW_UNREACHABLE


def _fields(v: VisitRequest) -> dict[str, object]:
    return {f: getattr(v, f) for f in VisitRequest.__slots__}


@pytest.mark.parametrize("seed", [1, 2])
def test_random_days_are_feasible(seed: int) -> None:
    visits, teams = _day(seed=seed, n=40)
    visits[3] = VisitRequest(**{**_fields(visits[3]), "pinned_team": "east", "district": "Pudong"})
    free = _problem(visits, teams)
    # Lock "any" on the first visit it can make alone (a manager's lock is kept as given).
    first = next(v.id for v in visits[4:] if solo_trip_fits(free, free.team("any"), v))
    p = _problem(visits, teams, locked=(LockedRoute("any", (first,)),))
    plan = plan_day(p, FAST)
    assert check_plan(p, plan) == []
