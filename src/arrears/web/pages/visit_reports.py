"""The managers' visit reports: visits planned vs made, found rate, outcomes, amounts promised
and collected within 7 and 30 days after a visit — by team, by reason for the delinquency,
by emotional state and de-escalation. Charts, and the same figures as CSV (audited)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from arrears.domain.people import Permission
from arrears.services import visit_record as vr
from arrears.services.audit import record
from arrears.web.charts import bar_chart
from arrears.web.context import client_of, lang_of, render, require, web
from arrears.web.i18n import Lang
from arrears.web.pages.visit_mobile import visit_labels

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
DEFAULT_DAYS = 30
MAX_DAYS = 366
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _period(request: Request) -> tuple[date, date, list[str]]:
    """[from, to] from the query (default: the last 30 days through today)."""
    today = web(request).clock.today()
    errors: list[str] = []

    def day(name: str, default: date) -> date:
        raw = request.query_params.get(name, "").strip()
        if not raw:
            return default
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors.append(f"{name}: not a date (YYYY-MM-DD)")
            return default

    until = day("to", today)
    since = day("from", until - timedelta(days=DEFAULT_DAYS - 1))
    if since > until:
        errors.append("from: after to")
        since = until
    if (until - since).days >= MAX_DAYS:
        errors.append(f"from: at most {MAX_DAYS} days")
        since = until - timedelta(days=MAX_DAYS - 1)
    return since, until, errors


def _labelled(report: vr.VisitReport, _: Callable[[str], str]) -> dict[str, list[Any]]:
    """Each group's rows with a display label."""
    labels = visit_labels(_)
    yes, no = _("de-escalated"), _("not de-escalated")
    for g in report.by_team:
        g.label = g.label or g.key
    for g in report.by_reason:
        g.label = labels["reason"].get(g.key, g.key)
    for g in report.by_emotion:
        state, de = g.key.split("|")
        g.label = f"{labels['emotion'].get(state, state)} · {yes if de == 'yes' else no}"
    report.total.label = _("All teams")
    return {"team": report.by_team, "reason": report.by_reason, "emotion": report.by_emotion}


def _charts(report: vr.VisitReport, lang: Lang) -> dict[str, Any]:
    _ = lang.gettext
    teams = report.by_team
    labels = visit_labels(_)
    outcomes = list(labels["outcome"])
    reasons = report.by_reason
    return {
        "chart_made": bar_chart(
            [g.label for g in teams],
            [
                (_("Visits planned"), [float(g.planned or 0) for g in teams]),
                (_("Visits made"), [float(g.made) for g in teams]),
                (_("Found"), [float(g.found) for g in teams]),
            ],
            title=_("Visits planned, made and found, by team"),
        ),
        "chart_outcomes": bar_chart(
            [labels["outcome"][o] for o in outcomes],
            [(_("Visits"), [float(report.total.outcomes.get(o, 0)) for o in outcomes])],
            title=_("Outcomes of the visits made"),
        ),
        "chart_money": bar_chart(
            [g.label for g in reasons],
            [
                (_("Amount promised"), [g.promised_minor / 100 for g in reasons]),
                (_("Paid within 7 days"), [g.collected_minor[7] / 100 for g in reasons]),
                (_("Paid within 30 days"), [g.collected_minor[30] / 100 for g in reasons]),
            ],
            title=_("Promised and paid after the visit, by reason for the delinquency"),
        ),
    }


@router.get("/visits/report")
def report_page(request: Request) -> Response:
    require(request, Permission.VIEW_VISIT_REPORTS)
    ctx = web(request)
    lang = lang_of(request)
    since, until, errors = _period(request)
    with ctx.engine.connect() as conn:
        report = vr.visit_report(conn, since, until)
    groups = _labelled(report, lang.gettext)
    return render(
        request,
        "visit_report.html",
        status_code=422 if errors else 200,
        report=report,
        groups=groups,
        errors=errors,
        outcomes=list(visit_labels(lang.gettext)["outcome"].items()),
        csv_query=urlencode({"from": since.isoformat(), "to": until.isoformat()}),
        plan_days=vr.PLAN_DAYS,
        reason_labels=visit_labels(lang.gettext)["reason"],
        **_charts(report, lang),
    )


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def report_csv_text(report: vr.VisitReport, lang: Lang) -> str:
    _ = lang.gettext
    groups = _labelled(report, _)
    outcomes = list(visit_labels(_)["outcome"].items())
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            _("Group"),
            _("Code"),
            _("Name"),
            _("Visits planned"),
            _("Visits made"),
            _("Found"),
            _("Found rate"),
            *[label for _code, label in outcomes],
            _("Amount promised"),
            _("Paid within 7 days"),
            _("Paid within 30 days"),
        ]
    )
    names = {
        "total": _("Total"),
        "team": _("Team"),
        "reason": _("Reason"),
        "emotion": _("Emotional state"),
    }
    for group, rows in (("total", [report.total]), *groups.items()):
        for g in rows:
            rate = g.found_rate
            w.writerow(
                [
                    _cell(names[group]),
                    _cell(g.key),
                    _cell(g.label),
                    "" if g.planned is None else g.planned,
                    g.made,
                    g.found,
                    "" if rate is None else f"{rate:.4f}",
                    *[g.outcomes.get(code, 0) for code, _label in outcomes],
                    _money(g.promised_minor),
                    _money(g.collected_minor[7]),
                    _money(g.collected_minor[30]),
                ]
            )
    return buf.getvalue()


@router.get("/visits/report.csv")
def report_csv(request: Request) -> Response:
    session = require(request, Permission.VIEW_VISIT_REPORTS)
    ctx = web(request)
    lang = lang_of(request)
    since, until, errors = _period(request)
    if errors:
        return report_page(request)
    with ctx.engine.begin() as conn:
        report = vr.visit_report(conn, since, until)
        record(
            conn,
            session.user.actor(),
            "export_visit_report",
            "visits",
            None,
            ctx.clock.now(),
            detail={"from": since.isoformat(), "to": until.isoformat()},
            client=client_of(request),
        )
    name = f"visits-{since.isoformat()}-{until.isoformat()}.csv"
    return Response(
        "\ufeff" + report_csv_text(report, lang),  # the BOM makes Excel read UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
