"""The audit log for compliance officers and administrators: who did or saw what, when and
why. A filtered, paginated table, and the same filter as a CSV download (itself audited)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from arrears.domain.errors import Issue
from arrears.domain.people import Permission
from arrears.services.admin import audit_actions, iter_audit
from arrears.services.audit import AuditEntry, AuditQuery, query_audit, record
from arrears.web.context import client_of, lang_of, render, require, web
from arrears.web.i18n import Lang

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
_HIDDEN_DETAIL = frozenset({"purpose", "masked"})  # purpose has its own label; masked = action
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class AuditFilter:
    """The filter form as typed, and the query it means (dates are the lender's days)."""

    actor: str = ""
    action: str = ""
    subject: str = ""
    date_from: str = ""
    date_to: str = ""
    issues: list[Issue] = field(default_factory=list)

    def params(self) -> dict[str, str]:
        named = {
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "from": self.date_from,
            "to": self.date_to,
        }
        return {k: v for k, v in named.items() if v}

    def query(self, zone: ZoneInfo, limit: int = PAGE_SIZE, offset: int = 0) -> AuditQuery:
        start = self._day("from", self.date_from)
        end = self._day("to", self.date_to)
        if start and end and start > end:
            self.issues.append(Issue("filter", None, "to", "the end is before the start"))
        return AuditQuery(
            actor=self.actor or None,
            action=self.action or None,
            subject_id=self.subject or None,
            since=datetime.combine(start, time(0), tzinfo=zone) if start else None,
            until=datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone) if end else None,
            limit=limit,
            offset=offset,
        )

    def _day(self, name: str, raw: str) -> date | None:
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.issues.append(Issue("filter", None, name, "not a date (YYYY-MM-DD)"))
            return None


def _filter_of(request: Request) -> AuditFilter:
    p = request.query_params
    return AuditFilter(
        actor=p.get("actor", "").strip()[:80],
        action=p.get("action", "").strip()[:32],
        subject=p.get("subject", "").strip()[:64],
        date_from=p.get("from", "").strip()[:10],
        date_to=p.get("to", "").strip()[:10],
    )


def detail_text(detail: dict[str, Any]) -> str:
    """A short summary of an entry's detail (its purpose is labelled separately)."""
    parts = []
    for key, value in detail.items():
        if key in _HIDDEN_DETAIL or value is None:
            continue
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {shown}")
    text = ", ".join(parts)
    return text if len(text) <= 160 else text[:159] + "…"


@router.get("/audit")
def audit_page(request: Request, page: int = 1) -> Response:
    require(request, Permission.READ_AUDIT)
    ctx = web(request)
    f = _filter_of(request)
    page = max(1, page)
    q = f.query(ZoneInfo(ctx.lender_timezone), offset=(page - 1) * PAGE_SIZE)
    entries: list[AuditEntry] = []
    total = 0
    with ctx.engine.begin() as conn:
        actions = audit_actions(conn)
        if not f.issues:
            entries, total = query_audit(conn, q)
    params = f.params()
    return render(
        request,
        "audit.html",
        status_code=422 if f.issues else 200,
        entries=entries,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        f=f,
        errors=f.issues,
        actions=actions,
        detail_text=detail_text,
        query=urlencode(params),
        page_query=lambda n: urlencode({**params, "page": n}),
    )


def _safe_cell(value: str) -> str:
    # A cell starting like a formula would run in a spreadsheet: keep it text.
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_line(cells: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerow([_safe_cell(c) for c in cells])
    return buf.getvalue().encode("utf-8")


def _csv_rows(request: Request, q: AuditQuery, lang: Lang) -> Iterator[bytes]:
    ctx = web(request)
    _ = lang.gettext
    header = [
        _("Time"),
        _("Actor"),
        _("Role"),
        _("Action"),
        _("Subject type"),
        _("Subject"),
        _("Reason"),
        _("Purpose"),
        _("Detail"),
        _("Client address"),
    ]
    yield "\ufeff".encode() + _csv_line(header)  # the BOM makes Excel read UTF-8
    with ctx.engine.connect() as conn:
        for e in iter_audit(conn, q):
            yield _csv_line(
                [
                    e.at.astimezone(lang.zone).isoformat(timespec="seconds"),
                    e.actor,
                    e.role,
                    e.action,
                    e.subject_type,
                    e.subject_id or "",
                    e.reason or "",
                    str(e.detail.get("purpose", "")),
                    json.dumps(e.detail, ensure_ascii=False, sort_keys=True),
                    e.client or "",
                ]
            )


@router.get("/audit.csv")
def audit_csv(request: Request) -> Response:
    session = require(request, Permission.READ_AUDIT)
    ctx = web(request)
    lang = lang_of(request)
    f = _filter_of(request)
    q = f.query(ZoneInfo(ctx.lender_timezone), limit=1)
    if f.issues:
        return audit_page(request)
    now = ctx.clock.now()
    with ctx.engine.begin() as conn:
        _entries, total = query_audit(conn, q)
        record(
            conn,
            session.user.actor(),
            "export_audit",
            "audit",
            None,
            now,
            detail={"filter": f.params(), "rows": total},
            client=client_of(request),
        )
    name = f"audit-{now.astimezone(lang.zone):%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        _csv_rows(request, q, lang),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
