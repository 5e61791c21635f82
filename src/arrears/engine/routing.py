"""The visit planner and the VRPTW solver configuration, on PyVRP 0.14.

One solver configuration, :func:`solve_data` with :class:`SolverSettings`, is used by both the
day planner (:func:`plan_day`) and ``arrears bench routing`` (Solomon/Gehring–Homberger
instances). It runs PyVRP's iterated local search with a fixed seed and a time limit:

* **Fleet phase** (only when every client is required and there is one vehicle type: the
  benchmark's case): after a first search (``fleet_phase[0]`` of the time), it repeatedly asks
  for a feasible solution with one vehicle fewer (stopping at the first feasible one) until
  ``fleet_phase[1]`` of the time is used or no smaller fleet is found; the rest of the time
  improves the distance from the best feasible solution with the smallest fleet.
* Otherwise (the planner: prize-collecting, one vehicle type per team) the whole time goes to
  a single search.

"Minimise vehicles, then distance" is also in the objective itself: the benchmark's model
gives each vehicle a fixed cost :func:`lexicographic_vehicle_cost` larger than any solution's
total distance can be, so one vehicle fewer always beats any distance saving.

**Integers everywhere.** PyVRP works on integers, so:

* planner: distances in **metres**, times in **seconds** (from local midnight, as in
  :mod:`arrears.domain.routing`); a visit's prize in *metres-equivalent*:
  ``priority / cost_per_km × 1000`` (so with 1 yuan per road km, a visit worth 5 yuan is worth
  a 5 km detour); prizes are capped at :data:`PRIZE_CAP`, pinned visits get
  :data:`PIN_BONUS` extra so the solver makes them whenever it can.
* benchmark: Solomon coordinates and times × ``scale`` (default :data:`BENCH_SCALE` = 1000).
  Distances are rounded; *travel times are rounded up*, so a schedule feasible with the
  solver's integers is feasible with exact (float) times too. Reported distances are
  recomputed in floats from the routes (``arrears.benchmarks.routing``).

**Pins and territories** use PyVRP routing profiles: each distinct set of visits a team may not
make gets a profile in which every edge *into* those visits has the distance
:data:`FORBIDDEN_METRES`, far more than any prize (:data:`PRIZE_CAP` + :data:`PIN_BONUS`), so
using one never pays; the plan is checked afterwards and a visit on a team that may not make
it would be dropped (:func:`_repair`). (A ``max_distance`` constraint was avoided: its penalty
is the excess distance times a penalty that must exceed the prizes, which overflows int64.)
**Locked routes** are scheduled as given (:func:`arrears.domain.routing.schedule_route`);
their teams and visits are left out of the solve.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pyvrp import (
    Client,
    Depot,
    Location,
    PenaltyParams,
    ProblemData,
    Solution,
    SolveParams,
    VehicleType,
    solve,
)
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import FirstFeasible, MaxRuntime, MultipleCriteria

from arrears.domain.routing import (
    RoutePlan,
    RoutingProblem,
    Team,
    TeamRoute,
    Unplanned,
    VisitRequest,
    check_plan,
    eligible_teams,
    home_key,
    schedule_route,
    solo_trip_fits,
    unplanned_reason,
)

__all__ = [
    "BENCH_SCALE",
    "FORBIDDEN_METRES",
    "PIN_BONUS",
    "PRIZE_CAP",
    "PlannerSettings",
    "SolverSettings",
    "lexicographic_vehicle_cost",
    "plan_day",
    "route_client_indices",
    "solve_data",
    "vrptw_data",
]

BENCH_SCALE = 1000
FORBIDDEN_METRES = 10**10
PRIZE_CAP = 10**8
PIN_BONUS = 10**8
#: Lower bound on the fixed cost per vehicle in the benchmark model (see
#: :func:`lexicographic_vehicle_cost`); a large value searches better than the bare bound.
MIN_VEHICLE_COST = 10**9


@dataclass(frozen=True, slots=True)
class SolverSettings:
    """The solver configuration shared by the planner and the benchmark."""

    seconds: float = 10.0
    seed: int = 1
    #: (end of the first search, end of the fleet reduction) as fractions of ``seconds``.
    fleet_phase: tuple[float, float] = (0.3, 0.7)


def _params(data: ProblemData) -> SolveParams:
    """PyVRP's default parameters (tuned by its authors on VRPTW benchmarks), except that the
    largest penalty per unit of violation (a visit over capacity, a second late) must exceed
    every client's prize: otherwise overloading a route to collect a big prize would pay, and
    the search would settle on infeasible plans. Without prizes this is PyVRP's default."""
    top = max((c.prize for c in data.clients()), default=0)
    default = PenaltyParams()
    return SolveParams(penalty=PenaltyParams(max_penalty=max(default.max_penalty, 2.0 * top)))


def _run(
    data: ProblemData,
    seconds: float,
    seed: int,
    first_feasible: bool = False,
    init: Solution | None = None,
) -> Solution:
    stop = MaxRuntime(max(seconds, 0.0))
    crit = MultipleCriteria([FirstFeasible(), stop]) if first_feasible else stop
    with warnings.catch_warnings():
        # Expected while asking for one vehicle fewer than the search can manage.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        res = solve(
            data,
            crit,
            seed=seed,
            collect_stats=False,
            display=False,
            params=_params(data),
            initial_solution=init,
        )
    return res.best


def _fleet_reducible(data: ProblemData) -> bool:
    return data.num_vehicle_types == 1 and all(c.required for c in data.clients())


def _fleet_lower_bound(data: ProblemData) -> int:
    vt = data.vehicle_type(0)
    bound = 1
    for dim in range(data.num_load_dimensions):
        demand = sum(c.delivery[dim] for c in data.clients())
        bound = max(bound, -(-demand // max(vt.capacity[dim], 1)))
    return bound


def solve_data(data: ProblemData, settings: SolverSettings) -> Solution:
    """Solve ``data`` within ``settings.seconds`` (see the module docstring for the phases).
    Returns the best solution found (check ``is_feasible()``)."""
    t0 = time.perf_counter()
    total = settings.seconds
    if not _fleet_reducible(data):
        return _run(data, total, settings.seed)

    first_end, fleet_end = settings.fleet_phase
    best = _run(data, total * first_end, settings.seed)
    if best.is_feasible():
        vt = data.vehicle_type(0)
        low = _fleet_lower_bound(data)
        while best.num_routes() > low:
            left = total * fleet_end - (time.perf_counter() - t0)
            if left <= 0:
                break
            smaller = data.replace(vehicle_types=[vt.replace(num_available=best.num_routes() - 1)])
            cand = _run(smaller, left, settings.seed, first_feasible=True)
            if not cand.is_feasible():
                break
            best, data = cand, smaller
    left = total - (time.perf_counter() - t0)
    if left > 0.05:
        final = _run(data, left, settings.seed, init=best if best.is_feasible() else None)
        if final.is_feasible() and (
            not best.is_feasible()
            or (final.num_routes(), final.distance()) <= (best.num_routes(), best.distance())
        ):
            best = final
    return best


def route_client_indices(solution: Solution) -> list[tuple[int, list[int]]]:
    """(vehicle type, client indices in visiting order) for each route of ``solution``."""
    return [(r.vehicle_type(), [a.idx for a in r if a.is_client()]) for r in solution.routes()]


# --------------------------------------------------------------------------------------------
# VRPTW (benchmark) model


def lexicographic_vehicle_cost(distance: NDArray[np.int64], depot: int = 0) -> int:
    """A fixed cost per vehicle larger than any solution's total distance: with the triangle
    inequality a route costs at most the sum of its clients' round trips from the depot, so
    the sum over all clients bounds every solution (a small allowance covers rounding)."""
    trips = int(distance[depot, :].sum() + distance[:, depot].sum())
    return max(MIN_VEHICLE_COST, trips + int(distance.shape[0]) + 1)


def vrptw_data(
    x: Sequence[float],
    y: Sequence[float],
    demand: Sequence[int],
    ready: Sequence[float],
    due: Sequence[float],
    service: Sequence[float],
    *,
    vehicles: int,
    capacity: int,
    scale: int = BENCH_SCALE,
) -> ProblemData:
    """A VRPTW in Solomon's convention (row 0 is the depot; Euclidean distance = travel time;
    a customer's service starts by its due time; the fleet returns by the depot's due time)
    as PyVRP data, scaled by ``scale``: distances rounded, travel times rounded up."""
    xy = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
    exact = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=-1)) * scale
    dist = np.rint(exact).astype(np.int64)
    dur = np.ceil(exact - 1e-7).astype(np.int64)
    np.fill_diagonal(dist, 0)
    np.fill_diagonal(dur, 0)

    def s(v: float) -> int:
        return round(v * scale)

    locs = [Location(x=float(a), y=float(b)) for a, b in xy]
    depot = Depot(location=0, tw_early=s(ready[0]), tw_late=s(due[0]))
    clients = [
        Client(
            location=i,
            delivery=[int(demand[i])],
            service_duration=s(service[i]),
            tw_early=s(ready[i]),
            tw_late=s(due[i]),
        )
        for i in range(1, len(xy))
    ]
    vt = VehicleType(
        num_available=vehicles,
        capacity=[capacity],
        fixed_cost=lexicographic_vehicle_cost(dist),
        tw_early=s(ready[0]),
        tw_late=s(due[0]),
    )
    return ProblemData(locs, clients, [depot], [vt], [dist], [dur], [], [])


# --------------------------------------------------------------------------------------------
# The day planner


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """``cost_per_km``: what a road km costs, in the priority's currency (sets how much
    priority is worth a detour)."""

    solver: SolverSettings = SolverSettings()
    cost_per_km: Decimal = Decimal(1)


def _prize(visit: VisitRequest, cost_per_km: Decimal) -> int:
    metres = int(visit.priority * 1000 / cost_per_km) if cost_per_km > 0 else PRIZE_CAP
    prize = min(max(metres, 0), PRIZE_CAP)
    return prize + (PIN_BONUS if visit.pinned_team is not None else 0)


def plan_day(problem: RoutingProblem, settings: PlannerSettings | None = None) -> RoutePlan:
    """Choose and order each team's visits for the day; unplanned visits get a reason."""
    settings = settings or PlannerSettings()
    routes: dict[str, TeamRoute] = {}
    locked_visits: set[str] = set()
    for lr in problem.locked:
        routes[lr.team_id] = schedule_route(problem, problem.team(lr.team_id), lr.visit_ids)
        locked_visits.update(lr.visit_ids)

    free = [t for t in problem.teams if problem.locked_for(t.id) is None and t.capacity > 0]
    allowed: dict[str, set[str]] = {t.id: set() for t in free}
    candidates: list[VisitRequest] = []
    for v in problem.visits:
        if v.id in locked_visits:
            continue
        teams = [
            t
            for t in eligible_teams(problem, v)
            if t.id in allowed and solo_trip_fits(problem, t, v)
        ]
        for t in teams:
            allowed[t.id].add(v.id)
        if teams:
            candidates.append(v)

    if candidates and free:
        for team_id, order in _solve_day(problem, free, candidates, allowed, settings):
            team = problem.team(team_id)
            routes[team_id] = _repair(problem, schedule_route(problem, team, order))

    planned = {s.visit_id for r in routes.values() for s in r.stops}
    ordered = tuple(
        routes.get(t.id, TeamRoute(t.id, (), t.shift_start, t.shift_start)) for t in problem.teams
    )
    unplanned = tuple(
        Unplanned(v.id, *unplanned_reason(problem, v, ordered))
        for v in problem.visits
        if v.id not in planned
    )
    return RoutePlan(ordered, unplanned)


def _solve_day(
    problem: RoutingProblem,
    teams: list[Team],
    visits: list[VisitRequest],
    allowed: dict[str, set[str]],
    settings: PlannerSettings,
) -> list[tuple[str, list[str]]]:
    keys = [home_key(t.id) for t in teams] + [v.id for v in visits]
    n = len(keys)
    dist = np.zeros((n, n), np.int64)
    dur = np.zeros((n, n), np.int64)
    for i, a in enumerate(keys):
        for j, b in enumerate(keys):
            if i != j:
                dur[i, j], dist[i, j] = problem.travel_between(a, b)

    # One profile per distinct set of visits a team may not make.
    first = len(teams)
    signatures: dict[frozenset[int], int] = {}
    team_profile: list[int] = []
    for t in teams:
        banned = frozenset(first + k for k, v in enumerate(visits) if v.id not in allowed[t.id])
        team_profile.append(signatures.setdefault(banned, len(signatures)))
    dists: list[Any] = []
    durs: list[Any] = []
    for banned in signatures:
        d = dist.copy()
        cols = sorted(banned)
        if cols:
            d[:, cols] = FORBIDDEN_METRES
            d[cols, cols] = 0
        dists.append(d)
        durs.append(dur)

    locs = [Location(x=p.lon, y=p.lat) for p in (problem.point(k) for k in keys)]
    depots = [Depot(location=i) for i in range(len(teams))]
    clients = [
        Client(
            location=first + k,
            delivery=[1],
            service_duration=v.duration,
            tw_early=v.window_start,
            tw_late=v.window_end - v.duration,
            prize=_prize(v, settings.cost_per_km),
            required=False,
        )
        for k, v in enumerate(visits)
    ]
    vtypes = [
        VehicleType(
            num_available=1,
            capacity=[t.capacity],
            start_depot=i,
            end_depot=i,
            tw_early=t.shift_start,
            tw_late=t.shift_end,
            profile=team_profile[i],
            name=t.id,
        )
        for i, t in enumerate(teams)
    ]
    data = ProblemData(locs, clients, depots, vtypes, dists, durs, [], [])
    solution = solve_data(data, settings.solver)
    return [
        (teams[vt].id, [visits[c].id for c in order])
        for vt, order in route_client_indices(solution)
    ]


def _repair(problem: RoutingProblem, route: TeamRoute) -> TeamRoute:
    """Safety net: should the solver return an infeasible route, drop the visits the team may
    not make, then the lowest-priority ones (pinned visits last) until :func:`check_plan`
    accepts the route. Normally a no-op."""
    team = problem.team(route.team_id)
    order = [
        s.visit_id
        for s in route.stops
        if team in eligible_teams(problem, problem.visit(s.visit_id))
    ]
    route = schedule_route(problem, team, order)
    while order and _route_problems(problem, route):
        order.remove(
            min(
                order,
                key=lambda vid: (
                    problem.visit(vid).pinned_team is not None,
                    problem.visit(vid).priority,
                ),
            )
        )
        route = schedule_route(problem, team, order)
    return route


def _keep_rank(visit: VisitRequest) -> tuple[bool, Decimal]:
    return visit.pinned_team is not None, visit.priority


def _route_problems(problem: RoutingProblem, route: TeamRoute) -> list[str]:
    found = check_plan(problem, RoutePlan((route,), ()))
    return [m for m in found if not m.startswith(("missing_visit", "locked"))]
