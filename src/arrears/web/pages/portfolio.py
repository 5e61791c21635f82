"""The manager's pages: the portfolio (buckets, classes, DPD bands, roll rates, workload) and
account assignment (by rule or by hand)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from arrears.domain.errors import Issue, ValidationError
from arrears.domain.people import Permission
from arrears.domain.products import DEFAULT_BUCKET_NAMES
from arrears.services import portfolio_view as pv
from arrears.services import promises
from arrears.services.assignment import AssignmentRule, assign_accounts, assign_by_rule
from arrears.services.staff import assignable_staff
from arrears.web.charts import bar_chart
from arrears.web.context import check_csrf, lang_of, render, require, web
from arrears.web.i18n import Lang

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
RULES = (AssignmentRule.BALANCE, AssignmentRule.BUCKET, AssignmentRule.CITY)
ROLL_CHART_BUCKETS = 4  # M0→M1 … M3→M4: more series would not fit the legend
MAX_MANUAL = 5000
PROMISE_DAYS = 90  # the promise table: promises made in the last N days, per collector


def band_label(band: pv.DpdBand) -> str:
    if band.high is None:
        return f">{band.low - 1}"
    return str(band.low) if band.low == band.high else f"{band.low}–{band.high}"


def _charts(view: pv.PortfolioView, lang: Lang) -> dict[str, Any]:
    count = lang.gettext("Loans")
    periods = [p.end.isoformat()[:7] for p in view.rolls]
    transitions = [r for r in (view.rolls[-1].rows if view.rolls else ()) if r.next_bucket]
    return {
        "bucket_chart": bar_chart(
            [r.key for r in view.by_bucket],
            [(count, [float(r.loans) for r in view.by_bucket])],
            title=lang.gettext("Active loans by bucket"),
            fmt=lambda v: lang.number(v),
        ),
        "dpd_chart": bar_chart(
            [band_label(b) for b in view.dpd],
            [(count, [float(b.loans) for b in view.dpd])],
            title=lang.gettext("Active loans by days past due"),
            fmt=lambda v: lang.number(v),
        ),
        "roll_chart": bar_chart(
            periods,
            [
                (
                    f"{r.bucket}→{r.next_bucket}",
                    [p.rate_of(r.bucket) or 0.0 for p in view.rolls],
                )
                for r in transitions[:ROLL_CHART_BUCKETS]
            ],
            title=lang.gettext("Roll rates by month"),
            fmt=lambda v: lang.percent(v, 0),
        ),
    }


@router.get("/portfolio")
def portfolio(request: Request) -> Response:
    require(request, Permission.VIEW_PORTFOLIO)
    ctx = web(request)
    since = ctx.clock.today() - timedelta(days=PROMISE_DAYS)
    with ctx.engine.begin() as conn:
        view = pv.portfolio_view(conn)
        promise_stats = promises.collector_promise_stats(conn, since)
    return render(
        request,
        "portfolio.html",
        view=view,
        promise_stats=promise_stats,
        promise_days=PROMISE_DAYS,
        band_label=band_label,
        **_charts(view, lang_of(request)),
    )


def _assignments_page(
    request: Request,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    form: dict[str, Any] | None = None,
) -> Response:
    ctx = web(request)
    with ctx.engine.begin() as conn:
        as_of = pv.last_cycle_date(conn)
        staff = assignable_staff(conn)
        load = pv.workload(conn, as_of)
        unassigned = pv.unassigned_accounts(conn, as_of)
        cities = pv.cities(conn)
    query = request.query_params
    result = None
    if query.get("assigned", "").isdigit():
        per = [p.rsplit(":", 1) for p in query.getlist("per") if ":" in p]
        result = {
            "assigned": int(query["assigned"]),
            "rule": query.get("rule", ""),
            "per_user": [(u, n) for u, n in per if n.isdigit()],
        }
    return render(
        request,
        "assignments.html",
        status_code=status_code,
        as_of=as_of,
        staff=staff,
        workload=load,
        unassigned=unassigned,
        cities=cities,
        buckets=DEFAULT_BUCKET_NAMES,
        rules=[r.value for r in RULES],
        result=result,
        errors=errors or [],
        form=form or {},
    )


@router.get("/assignments")
def assignments(request: Request) -> Response:
    require(request, Permission.ASSIGN_ACCOUNTS)
    return _assignments_page(request)


def _user_ids(values: list[Any]) -> list[int]:
    ids, issues = [], []
    for raw in values:
        text = str(raw).strip()
        if text.isdigit():
            ids.append(int(text))
        else:
            issues.append(Issue("form", None, "user_id", f"not a user id: {text!r}"))
    if issues:
        raise ValidationError(issues)
    return list(dict.fromkeys(ids))


def _done(rule: str, assigned: int, per_user: dict[str, int]) -> Response:
    query = [("assigned", str(assigned)), ("rule", rule)]
    query += [("per", f"{u}:{n}") for u, n in per_user.items()]
    return RedirectResponse(f"/assignments?{urlencode(query)}#result", status_code=303)


@router.post("/assignments/rule")
async def assign_rule(request: Request) -> Response:
    session = require(request, Permission.ASSIGN_ACCOUNTS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    rule_text = str(form.get("rule") or "")
    user_ids = [str(v) for v in form.getlist("user_id")]
    bucket = str(form.get("bucket") or "") or None
    city = str(form.get("city") or "") or None
    only_unassigned = form.get("only_unassigned") == "on"
    values: dict[str, Any] = {
        "rule": rule_text,
        "user_ids": user_ids,
        "bucket": bucket,
        "city": city,
        "only_unassigned": only_unassigned,
    }
    try:
        try:
            rule = AssignmentRule(rule_text)
        except ValueError:
            rule = AssignmentRule.MANUAL
        if rule not in RULES:
            raise ValidationError([Issue("form", None, "rule", "choose balance, bucket or city")])
        with ctx.engine.begin() as conn:
            result = assign_by_rule(
                conn,
                session.user.actor(),
                rule,
                _user_ids(user_ids),
                ctx.clock.now(),
                bucket=bucket if rule is AssignmentRule.BUCKET else None,
                city=city if rule is AssignmentRule.CITY else None,
                only_unassigned=only_unassigned,
            )
    except ValidationError as exc:
        return _assignments_page(request, 422, exc.issues, values)
    return _done(rule.value, result.assigned, result.per_user)


def _borrower_ids(text: str) -> list[str]:
    ids = list(dict.fromkeys(p for p in re.split(r"[\s,;，；]+", text) if p))
    if not ids:
        raise ValidationError([Issue("form", None, "borrower_ids", "enter at least one account")])
    if len(ids) > MAX_MANUAL:
        raise ValidationError(
            [Issue("form", None, "borrower_ids", f"at most {MAX_MANUAL} accounts at a time")]
        )
    return ids


@router.post("/assignments/manual")
async def assign_manual(request: Request) -> Response:
    session = require(request, Permission.ASSIGN_ACCOUNTS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    values = {
        "borrower_ids": str(form.get("borrower_ids") or ""),
        "manual_user_id": str(form.get("user_id") or ""),
    }
    try:
        ids = _borrower_ids(values["borrower_ids"])
        users = _user_ids([values["manual_user_id"]] if values["manual_user_id"] else [])
        if len(users) != 1:
            raise ValidationError([Issue("form", None, "user_id", "choose one collector")])
        with ctx.engine.begin() as conn:
            assigned = assign_accounts(conn, session.user.actor(), ids, users[0], ctx.clock.now())
            names = {m.user_id: m.username for m in assignable_staff(conn)}
    except ValidationError as exc:
        return _assignments_page(request, 422, exc.issues, values)
    return _done(AssignmentRule.MANUAL.value, assigned, {names.get(users[0], "?"): assigned})
