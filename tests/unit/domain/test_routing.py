"""Routing domain: travel, priority, windows, and the independent plan checker.

Every checker test starts from a plan the checker accepts, breaks exactly one rule, and
expects the message code for that rule: if the check were removed, the test would fail.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import time
from decimal import Decimal

import pytest

from arrears.domain.compliance.model import ClockWindow
from arrears.domain.errors import ValidationError
from arrears.domain.routing import (
    EARTH_RADIUS_KM,
    HaversineTravel,
    LockedRoute,
    MatrixTravel,
    Point,
    Reason,
    RoutePlan,
    RoutingProblem,
    Stop,
    Team,
    TeamRoute,
    Unplanned,
    VisitRequest,
    check_plan,
    clip_window,
    haversine_km,
    hm,
    home_key,
    route_svg,
    schedule_route,
    unplanned_reason,
    visit_priority,
)

HOME = Point(31.2304, 121.4737)  # Shanghai, People's Square


def _at(dlat_km: float, dlon_km: float) -> Point:
    """A point ``dlat_km`` north and ``dlon_km`` east of HOME (small distances)."""
    km_per_deg = math.pi * EARTH_RADIUS_KM / 180
    return Point(
        HOME.lat + dlat_km / km_per_deg,
        HOME.lon + dlon_km / (km_per_deg * math.cos(math.radians(HOME.lat))),
    )


def _visit(vid: str, km_east: float, **kw: object) -> VisitRequest:
    base: dict[str, object] = {
        "id": vid,
        "point": _at(0, km_east),
        "priority": Decimal(100),
        "window_start": hm("09:00"),
        "window_end": hm("17:00"),
        "duration": 1800,
        "city": "Shanghai",
        "district": "Huangpu",
    }
    base.update(kw)
    return VisitRequest(**base)  # type: ignore[arg-type]


def _team(tid: str, **kw: object) -> Team:
    base: dict[str, object] = {
        "id": tid,
        "home": HOME,
        "shift_start": hm("08:30"),
        "shift_end": hm("18:00"),
        "capacity": 5,
        "territory": frozenset({"Shanghai"}),
    }
    base.update(kw)
    return Team(**base)  # type: ignore[arg-type]


def _problem(**kw: object) -> RoutingProblem:
    base: dict[str, object] = {
        "visits": (_visit("v1", 2), _visit("v2", 4), _visit("v3", 6)),
        "teams": (_team("A"), _team("B")),
        "travel": HaversineTravel(road_factor=1.3, speed_kmh=25),
    }
    base.update(kw)
    return RoutingProblem(**base)  # type: ignore[arg-type]


def _plan(problem: RoutingProblem, orders: dict[str, list[str]]) -> RoutePlan:
    routes = tuple(schedule_route(problem, problem.team(t), o) for t, o in orders.items())
    planned = {v for o in orders.values() for v in o}
    unplanned = tuple(
        Unplanned(v.id, Reason.NOT_FITTED) for v in problem.visits if v.id not in planned
    )
    return RoutePlan(routes, unplanned)


def _codes(messages: list[str]) -> set[str]:
    return {m.split(":", 1)[0] for m in messages}


def _replace_stop(plan: RoutePlan, team: str, index: int, **kw: int) -> RoutePlan:
    routes = []
    for r in plan.routes:
        if r.team_id == team:
            stops = list(r.stops)
            stops[index] = dataclasses.replace(stops[index], **kw)
            r = dataclasses.replace(r, stops=tuple(stops))
        routes.append(r)
    return dataclasses.replace(plan, routes=tuple(routes))


# --- travel ----------------------------------------------------------------------------------


def test_haversine_along_a_meridian_is_radius_times_angle() -> None:
    km = haversine_km(Point(30.0, 120.0), Point(31.0, 120.0))
    assert km == pytest.approx(EARTH_RADIUS_KM * math.pi / 180, rel=1e-12)  # 111.195 km


def test_haversine_paris_london_known_distance() -> None:
    km = haversine_km(Point(48.8566, 2.3522), Point(51.5074, -0.1278))
    assert km == pytest.approx(343.5, abs=0.5)


def test_haversine_travel_applies_road_factor_and_speed_rounding_up() -> None:
    a, b = Point(30.0, 120.0), Point(30.1, 120.0)
    secs, metres = HaversineTravel(road_factor=1.5, speed_kmh=30).between(a, b)
    km = haversine_km(a, b) * 1.5
    assert metres == round(km * 1000)
    assert secs == math.ceil(km / 30 * 3600)
    assert secs >= km / 30 * 3600


def test_matrix_travel_is_used_and_must_be_complete() -> None:
    visits = (_visit("v1", 2),)
    teams = (_team("A"),)
    keys = [home_key("A"), "v1"]
    seconds = {(a, b): 600 for a in keys for b in keys if a != b}
    p = RoutingProblem(visits, teams, MatrixTravel(seconds))
    assert p.travel_between(home_key("A"), "v1") == (600, 600)
    del seconds[("v1", home_key("A"))]
    with pytest.raises(ValidationError, match="missing"):
        RoutingProblem(visits, teams, MatrixTravel(seconds))


def test_hm() -> None:
    assert hm("09:30") == 34200
    assert hm("24:00") == 86400
    with pytest.raises(ValidationError):
        hm("25:00")


# --- problem validation ----------------------------------------------------------------------


def test_problem_names_every_bad_input() -> None:
    with pytest.raises(ValidationError) as exc:
        _problem(
            visits=(_visit("v1", 2, pinned_team="Z"), _visit("v1", 3, window_end=hm("08:00"))),
            locked=(LockedRoute("A", ("nope",)),),
        )
    text = str(exc.value)
    assert "no team 'Z'" in text
    assert "appears more than once" in text
    assert "window" in text
    assert "no visit 'nope'" in text


# --- the checker -----------------------------------------------------------------------------


def test_a_scheduled_plan_passes() -> None:
    p = _problem()
    assert check_plan(p, _plan(p, {"A": ["v1", "v2"], "B": ["v3"]})) == []


def test_checker_catches_visit_before_its_window() -> None:
    p = _problem()
    plan = _plan(p, {"A": ["v1"]})
    s = plan.routes[0].stops[0]
    early = p.visit("v1").window_start - 600
    bad = _replace_stop(plan, "A", 0, start=early, end=early + 1800, arrival=min(s.arrival, early))
    assert "window" in _codes(check_plan(p, bad))


def test_checker_catches_visit_ending_after_its_window() -> None:
    visits = (_visit("v1", 2, window_start=hm("09:00"), window_end=hm("09:40")), _visit("v2", 3))
    p = _problem(visits=visits)
    # v2 first, then v1: v1 cannot start before ~09:3x and lasts 30 min, past 09:40.
    plan = _plan(p, {"A": ["v2", "v1"]})
    assert plan.routes[0].stops[1].end > hm("09:40")
    assert "window" in _codes(check_plan(p, plan))
    assert check_plan(p, _plan(p, {"A": ["v1", "v2"]})) == []


def test_checker_catches_return_home_after_shift_end() -> None:
    # The last visit ends before the shift ends, but the drive home does not.
    visits = (_visit("v1", 10, window_start=hm("09:00"), window_end=hm("17:00")),)
    ok = _problem(visits=visits, teams=(_team("A", shift_end=hm("18:00")),))
    assert check_plan(ok, _plan(ok, {"A": ["v1"]})) == []
    late_visit = (_visit("v1", 10, window_start=hm("16:25"), window_end=hm("17:00")),)
    p = _problem(visits=late_visit, teams=(_team("A", shift_end=hm("17:05")),))
    plan = _plan(p, {"A": ["v1"]})
    assert plan.routes[0].stops[0].end <= hm("17:05")
    assert "shift_end" in _codes(check_plan(p, plan))


def test_checker_catches_leaving_before_the_shift() -> None:
    p = _problem()
    plan = _plan(p, {"A": ["v1"]})
    bad = dataclasses.replace(
        plan, routes=(dataclasses.replace(plan.routes[0], departure=hm("07:00")),)
    )
    assert "shift_start" in _codes(check_plan(p, bad))


def test_checker_catches_impossible_travel_times() -> None:
    p = _problem()
    plan = _plan(p, {"A": ["v1", "v3"]})
    s = plan.routes[0].stops[1]
    # Claim the team reaches v3 the moment it leaves v1 (4 km away).
    first_end = plan.routes[0].stops[0].end
    bad = _replace_stop(plan, "A", 1, arrival=first_end, start=max(first_end, s.start))
    assert "travel" in _codes(check_plan(p, bad))


def test_checker_catches_over_capacity() -> None:
    p = _problem(teams=(_team("A", capacity=2), _team("B")))
    assert check_plan(p, _plan(p, {"A": ["v1", "v2"], "B": ["v3"]})) == []
    assert "capacity" in _codes(check_plan(p, _plan(p, {"A": ["v1", "v2", "v3"]})))


def test_checker_catches_pinned_visit_on_the_wrong_team() -> None:
    visits = (_visit("v1", 2, pinned_team="B"), _visit("v2", 4), _visit("v3", 6))
    p = _problem(visits=visits)
    assert check_plan(p, _plan(p, {"B": ["v1"], "A": ["v2", "v3"]})) == []
    assert "pinned" in _codes(check_plan(p, _plan(p, {"A": ["v1", "v2", "v3"]})))


def test_checker_catches_a_changed_locked_route() -> None:
    p = _problem(locked=(LockedRoute("A", ("v2", "v1")),))
    assert check_plan(p, _plan(p, {"A": ["v2", "v1"], "B": ["v3"]})) == []
    assert "locked" in _codes(check_plan(p, _plan(p, {"A": ["v1", "v2"], "B": ["v3"]})))
    assert "locked" in _codes(check_plan(p, _plan(p, {"A": ["v2"], "B": ["v1", "v3"]})))


def test_checker_catches_a_visit_outside_the_territory() -> None:
    visits = (_visit("v1", 2, city="Suzhou", district="Gusu"), _visit("v2", 4))
    teams = (_team("A", territory=frozenset({"Suzhou"})), _team("B"))
    p = _problem(visits=visits, teams=teams)
    assert check_plan(p, _plan(p, {"A": ["v1"], "B": ["v2"]})) == []
    assert "territory" in _codes(check_plan(p, _plan(p, {"B": ["v1", "v2"]})))


def test_territory_matches_district_and_empty_means_anywhere() -> None:
    v = _visit("v1", 2, city="Shanghai", district="Pudong")
    assert _team("A", territory=frozenset({"Pudong"})).covers(v)
    assert not _team("A", territory=frozenset({"Huangpu"})).covers(v)
    assert _team("A", territory=frozenset()).covers(v)


def test_checker_catches_missing_and_duplicated_visits() -> None:
    p = _problem()
    plan = _plan(p, {"A": ["v1", "v2"], "B": ["v3"]})
    dropped = dataclasses.replace(plan, routes=plan.routes[:1])  # v3 neither planned nor listed
    assert "missing_visit" in _codes(check_plan(p, dropped))
    twice = _plan(p, {"A": ["v1", "v2"], "B": ["v1", "v3"]})
    assert "duplicate_visit" in _codes(check_plan(p, twice))


def test_checker_catches_wrong_duration_and_unknown_ids() -> None:
    p = _problem()
    plan = _plan(p, {"A": ["v1"]})
    s = plan.routes[0].stops[0]
    assert "duration" in _codes(check_plan(p, _replace_stop(plan, "A", 0, end=s.start + 60)))
    ghost = RoutePlan(
        (TeamRoute("Z", (Stop("v9", 0, 0, 0),), 0, 0),),
        tuple(Unplanned(v.id, Reason.NOT_FITTED) for v in p.visits),
    )
    assert "unknown_team" in _codes(check_plan(p, ghost))


# --- reasons ---------------------------------------------------------------------------------


def test_unplanned_reasons() -> None:
    visits = (
        _visit("far", 2, city="Hangzhou", district="Xihu"),
        _visit("tight", 60, window_start=hm("08:30"), window_end=hm("09:00")),
        _visit("v1", 2),
    )
    p = _problem(visits=visits, teams=(_team("A", capacity=0),))
    assert unplanned_reason(p, p.visit("far"), [])[0] is Reason.OUTSIDE_TERRITORY
    assert unplanned_reason(p, p.visit("tight"), [])[0] is Reason.WINDOW_UNREACHABLE
    assert unplanned_reason(p, p.visit("v1"), [])[0] is Reason.CAPACITY_FULL


# --- priority and windows --------------------------------------------------------------------


def test_visit_priority_is_amount_times_chance_by_dpd() -> None:
    assert visit_priority(Decimal("10000.00"), 45) == Decimal("3000.00")
    assert visit_priority(Decimal("10000.00"), 400) == Decimal("400.00")
    assert visit_priority(Decimal("10000.00"), 0) == Decimal("0.00")
    # Fades with age.
    assert visit_priority(Decimal(1000), 10) > visit_priority(Decimal(1000), 100)


def test_clip_window_to_visiting_hours() -> None:
    hours = ClockWindow(time(8), time(20))
    assert clip_window(hm("07:00"), hm("09:00"), hours) == (hm("08:00"), hm("09:00"))
    assert clip_window(hm("19:00"), hm("22:00"), hours) == (hm("19:00"), hm("20:00"))
    assert clip_window(hm("20:30"), hm("22:00"), hours) is None


def test_route_svg_draws_home_and_numbered_stops() -> None:
    p = _problem()
    route = schedule_route(p, p.team("A"), ["v1", "v2", "v3"])
    svg = route_svg(p, route)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<circle") == 3
    assert ">3</text>" in svg
