"""Managers: the collection strategy as a versioned YAML document — edit, preview what it
would propose on the last cycle date (through the compliance gate), save a new version."""

from __future__ import annotations

from datetime import date
from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.people import Permission
from arrears.services import strategy_store
from arrears.services.experiment import arm_report, experiment_dates
from arrears.web.context import check_csrf, render, require, web

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _current(conn: Any) -> tuple[str, str]:
    found = strategy_store.active_text(conn)
    if found is not None:
        return found
    text = resources.files("arrears.strategies").joinpath("default_cn.yaml").read_text("utf-8")
    return text, "default_cn.yaml"


def _page(
    request: Request,
    text: str | None = None,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    result: Any = None,
    saved: str | None = None,
) -> Response:
    ctx = web(request)
    with ctx.engine.connect() as conn:
        current, source = _current(conn)
        history = strategy_store.versions(conn)
    return render(
        request,
        "strategy.html",
        status_code=status_code,
        text=current if text is None else text,
        source=source,
        history=history,
        errors=errors or [],
        result=result,
        saved=saved,
    )


@router.get("/strategy")
def strategy(request: Request, saved: str = "") -> Response:
    require(request, Permission.EDIT_STRATEGY)
    return _page(request, saved=saved or None)


@router.get("/strategy/experiment")
def experiment(request: Request, date_from: str = "", date_to: str = "") -> Response:
    """Champion / challenger: each arm's figures between two cycle dates, with 95 % intervals."""
    require(request, Permission.EDIT_STRATEGY)
    ctx = web(request)
    issues: list[Issue] = []
    figures = None
    with ctx.engine.connect() as conn:
        days = experiment_dates(conn)
        start = (
            _date(date_from, "from", issues) if date_from else (days[-2] if len(days) > 1 else None)
        )
        end = _date(date_to, "to", issues) if date_to else (days[-1] if days else None)
        if not issues and start and end:
            try:
                arms, _ = strategy_store.active_arms(conn)
                figures = arm_report(conn, arms, start, end, ctx.lender_timezone)
            except ValidationError as exc:
                issues = exc.issues
    return render(
        request,
        "strategy_experiment.html",
        status_code=422 if issues else 200,
        figures=figures,
        errors=issues,
        start=start,
        end=end,
        days=days,
    )


def _date(value: str, field: str, issues: list[Issue]) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        issues.append(Issue("report", None, field, "not a date (YYYY-MM-DD)"))
        return None


@router.post("/strategy/preview")
async def preview(request: Request) -> Response:
    session = require(request, Permission.EDIT_STRATEGY)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    text = str(form.get("body") or "")
    try:
        with ctx.engine.connect() as conn:
            parsed, proposals, as_of = strategy_store.preview(conn, text, ctx.lender_timezone)
    except ValidationError as exc:
        return _page(request, text, 422, exc.issues)
    summary = None
    if proposals is not None:
        summary = {
            "as_of": as_of,
            "total": proposals.proposals.num_rows,
            "by_segment": proposals.counts("segment", "action"),
            "blocked": proposals.counts("blocked_by") if proposals.gated else [],
        }
    return _page(request, text, result={"strategy": parsed, "summary": summary})


@router.post("/strategy")
async def save(request: Request) -> Response:
    session = require(request, Permission.EDIT_STRATEGY)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    text = str(form.get("body") or "")
    try:
        with ctx.engine.begin() as conn:
            strategy_store.save_strategy(
                conn, session.user.actor(), text, ctx.clock.now(), str(form.get("note") or "")
            )
    except ValidationError as exc:
        return _page(request, text, 422, exc.issues)
    return RedirectResponse("/strategy?saved=1", status_code=303)
