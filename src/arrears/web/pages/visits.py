"""Door visits, the planning pages (issue 6): the visit queue and pins, field teams, the day
plan (plan, re-plan, lock routes, unplanned visits with reasons), a visit requested by hand
from the account page, and the field agent's route sheet (read-only)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from arrears.domain.compliance import pack_by_id
from arrears.domain.errors import Conflict, Issue, ValidationError
from arrears.domain.people import Permission
from arrears.engine.routing import PlannerSettings, SolverSettings
from arrears.services import visits
from arrears.services.access import account_labels
from arrears.web.context import check_csrf, render, require, web
from arrears.web.pages.desk import _account_page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
TEAM_FIELDS = (
    "team_id",
    "name",
    "home_label",
    "home_latitude",
    "home_longitude",
    "shift_start",
    "shift_end",
    "capacity",
    "territory",
)


def _day(text: str | None, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# --------------------------------------------------------------------------------------------
# The queue


def _queue_page(
    request: Request, status_code: int = 200, errors: list[Issue] | None = None
) -> Response:
    session = require(request, Permission.PLAN_VISITS)
    ctx = web(request)
    with ctx.engine.begin() as conn:
        rows = visits.list_requests(conn)
        labels = account_labels(conn, session.user.actor(), [r.borrower_id for r in rows])
        teams = visits.list_teams(conn, active_only=True)
    return render(
        request,
        "visits_queue.html",
        status_code=status_code,
        rows=rows,
        labels=labels,
        teams=teams,
        errors=errors or [],
        tomorrow=ctx.clock.today() + timedelta(days=1),
    )


@router.get("/visits")
def queue(request: Request) -> Response:
    return _queue_page(request)


@router.post("/visits/pin")
async def pin(request: Request) -> Response:
    session = require(request, Permission.PLAN_VISITS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    visit_text, team = _text(form, "visit_id"), _text(form, "team_id") or None
    try:
        if not visit_text.isdigit():
            raise ValidationError([Issue("form", None, "visit_id", "not a visit id")])
        with ctx.engine.begin() as conn:
            visits.pin_visit(conn, session.user.actor(), int(visit_text), team, ctx.clock.now())
    except ValidationError as exc:
        return _queue_page(request, 422, exc.issues)
    return RedirectResponse(f"/visits#visit-{visit_text}", status_code=303)


@router.post("/accounts/{borrower_id}/visits")
async def request_visit(request: Request, borrower_id: str) -> Response:
    """A manager or collector asks for a door visit (with a reason) from the account page."""
    session = require(request, Permission.REQUEST_VISITS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    try:
        window = visits.parse_window(_text(form, "window_start"), _text(form, "window_end"))
        duration = _text(form, "duration_min") or str(visits.DEFAULT_DURATION_MIN)
        if not duration.isdigit():
            raise ValidationError([Issue("form", None, "duration_min", "minutes, a number")])
        with ctx.engine.begin() as conn:
            visit_id = visits.request_visit(
                conn,
                session.user.actor(),
                borrower_id,
                reason=_text(form, "reason"),
                now=ctx.clock.now(),
                today=ctx.clock.today(),
                window=window,
                duration_min=int(duration),
            )
    except ValidationError as exc:
        return _account_page(request, borrower_id, status_code=422, errors=exc.issues)
    except Conflict as exc:
        issue = Issue("visit", None, "borrower_id", str(exc))
        return _account_page(request, borrower_id, status_code=409, errors=[issue])
    return RedirectResponse(
        f"/accounts/{quote(borrower_id)}?visit={visit_id}#visit-request", status_code=303
    )


# --------------------------------------------------------------------------------------------
# Teams


def _teams_page(
    request: Request,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    require(request, Permission.PLAN_VISITS)
    ctx = web(request)
    with ctx.engine.begin() as conn:
        teams = visits.list_teams(conn)
        agents = visits.field_agents(conn)
    edit = request.query_params.get("edit")
    if values is None:
        chosen = next((t for t in teams if t.team_id == edit), None)
        values = _team_values(chosen) if chosen else {"shift_start": "09:00", "shift_end": "18:00"}
    return render(
        request,
        "visits_teams.html",
        status_code=status_code,
        teams=teams,
        agents=agents,
        errors=errors or [],
        values=values,
        saved=request.query_params.get("saved"),
    )


def _team_values(team: visits.FieldTeam) -> dict[str, Any]:
    return {
        "team_id": team.team_id,
        "name": team.name,
        "home_label": team.home_label,
        "home_latitude": str(team.home_latitude),
        "home_longitude": str(team.home_longitude),
        "shift_start": f"{team.shift_start:%H:%M}",
        "shift_end": f"{team.shift_end:%H:%M}",
        "capacity": str(team.capacity),
        "territory": ", ".join(team.territory),
        "members": [m.user_id for m in team.members],
        "active": team.active,
    }


@router.get("/visits/teams")
def teams(request: Request) -> Response:
    return _teams_page(request)


@router.post("/visits/teams")
async def save_team(request: Request) -> Response:
    session = require(request, Permission.PLAN_VISITS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    fields = {name: _text(form, name) for name in TEAM_FIELDS}
    fields["active"] = "on" if form.get("active") == "on" else "off"
    members = [str(m) for m in form.getlist("members")]
    values: dict[str, Any] = {
        **fields,
        "members": [int(m) for m in members if m.isdigit()],
        "active": fields["active"] == "on",
    }
    try:
        team = visits.parse_team(fields, members)
        with ctx.engine.begin() as conn:
            team_id = visits.save_team(conn, session.user.actor(), team, ctx.clock.now())
    except ValidationError as exc:
        return _teams_page(request, 422, exc.issues, values)
    except Conflict as exc:
        return _teams_page(request, 409, [Issue("team", None, "team_id", str(exc))], values)
    return RedirectResponse(f"/visits/teams?saved={quote(team_id)}", status_code=303)


# --------------------------------------------------------------------------------------------
# The day plan


@router.get("/visits/plan")
def plan_page(request: Request, day: str | None = None) -> Response:
    session = require(request, Permission.PLAN_VISITS)
    ctx = web(request)
    chosen = _day(day, ctx.clock.today() + timedelta(days=1))
    with ctx.engine.begin() as conn:
        view = visits.day_plan(conn, chosen)
        ids = [s.borrower_id for r in view.routes for s in r.stops]
        ids += [u.borrower_id for u in view.unplanned]
        labels = account_labels(conn, session.user.actor(), ids)
        teams = visits.list_teams(conn, active_only=True)
    query = request.query_params
    return render(
        request,
        "visits_plan.html",
        view=view,
        labels=labels,
        teams=teams,
        day=chosen,
        planned=query.get("planned"),
        unplanned=query.get("unplanned"),
        problems=query.get("problems"),
    )


@router.post("/visits/plan")
async def plan(request: Request) -> Response:
    session = require(request, Permission.PLAN_VISITS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    day = _day(_text(form, "day"), ctx.clock.today() + timedelta(days=1))
    settings = PlannerSettings(SolverSettings(seconds=ctx.visit_plan_seconds, seed=1))
    with ctx.engine.begin() as conn:
        outcome = visits.plan_visits(
            conn,
            session.user.actor(),
            day,
            ctx.clock.now(),
            settings,
            ctx.lender_timezone,
            pack_by_id(ctx.compliance_pack),
        )
    query = (
        f"day={day.isoformat()}&planned={len(outcome.planned)}"
        f"&unplanned={len(outcome.unplanned)}&problems={len(outcome.problems)}"
    )
    return RedirectResponse(f"/visits/plan?{query}#routes", status_code=303)


@router.post("/visits/lock")
async def lock(request: Request) -> Response:
    session = require(request, Permission.PLAN_VISITS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    day = _day(_text(form, "day"), ctx.clock.today() + timedelta(days=1))
    team = _text(form, "team_id")
    with ctx.engine.begin() as conn:
        if _text(form, "action") == "unlock":
            visits.unlock_route(conn, session.user.actor(), day, team, ctx.clock.now())
        else:
            visits.lock_route(conn, session.user.actor(), day, team, ctx.clock.now())
    return RedirectResponse(
        f"/visits/plan?day={day.isoformat()}#route-{quote(team)}", status_code=303
    )


# --------------------------------------------------------------------------------------------
# The field agent's route sheet


@router.get("/visits/route")
def route(request: Request, day: str | None = None) -> Response:
    session = require(request, Permission.VIEW_ROUTE)
    ctx = web(request)
    chosen = _day(day, ctx.clock.today())
    with ctx.engine.begin() as conn:
        view = visits.route_for(conn, session.user.actor(), chosen, ctx.clock.now())
    return render(request, "visits_route.html", view=view, day=chosen)
