"""The field team's pages on a phone: today's route and the visit (start, record, evidence,
end).

Every form works without JavaScript (a post and a redirect); ``/static/visit.js`` adds the
phone's position, keeps what is typed in the phone's storage and queues saves made without a
connection, posting the same forms with ``Accept: application/json`` (answered as JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from arrears.domain.compliance import pack_by_id
from arrears.domain.errors import Conflict, Forbidden, Issue, ValidationError
from arrears.domain.people import Permission, may
from arrears.services import visit_record as vr
from arrears.services.auth import Session
from arrears.services.dossiers import dossier_pdf, gather_dossier
from arrears.services.promises import PromisedBy
from arrears.web.context import check_csrf, client_of, lang_of, render, require, web

__all__ = ["router", "visit_labels"]

router = APIRouter(include_in_schema=False)
# Shown inline in the browser; anything else is downloaded.
_INLINE = ("image/jpeg", "image/png", "image/webp", "audio/mpeg", "audio/mp4", "audio/webm")


def visit_labels(_: Callable[[str], str]) -> dict[str, dict[str, str]]:
    """Labels of the stored codes (the pages, the report and its CSV)."""
    return {
        "met": {
            "borrower": _("The borrower"),
            "family": _("Family"),
            "nobody": _("Nobody"),
        },
        "reason": {
            "job_loss": _("Job loss"),
            "illness": _("Illness"),
            "business_trouble": _("Business trouble"),
            "dispute": _("Dispute"),
            "refusal": _("Refuses to pay"),
            "fraud_claim": _("Claims fraud"),
            "other": _("Other"),
            "": _("Not given"),
        },
        "emotion": {
            "calm": _("Calm"),
            "anxious": _("Anxious"),
            "angry": _("Angry"),
            "distressed": _("Distressed"),
            "": _("Not given"),
        },
        "outcome": {
            "paid_now": _("Paid now"),
            "promise": _("Promise to pay"),
            "plan_proposed": _("Plan proposed"),
            "refused": _("Refused"),
            "not_found": _("Not found"),
            "moved": _("Moved away"),
        },
        "status": {
            "requested": _("Requested"),
            "planned": _("Planned"),
            "started": _("In progress"),
            "done": _("Done"),
            "cancelled": _("Cancelled"),
        },
        "promised_by": {
            "borrower": _("Borrower"),
            "spouse": _("Spouse"),
            "parent": _("Parent"),
            "child": _("Child"),
            "relative": _("Relative"),
            "guarantor": _("Guarantor"),
            "other": _("Other"),
        },
        "kind": {"photo": _("Photo"), "audio": _("Audio"), "other": _("File")},
    }


def _agent(request: Request) -> Session:
    return require(request, Permission.RECORD_VISITS)


def _reader(request: Request) -> Session:
    session = require(request)
    role = session.user.role
    if not (may(role, Permission.RECORD_VISITS) or may(role, Permission.VIEW_VISIT_REPORTS)):
        raise Forbidden("your role may not open visits")
    return session


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _problems(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": i.column, "reason": i.reason} for i in exc.issues]


def _decimal(form: Mapping[str, Any], name: str, issues: list[Issue]) -> Decimal | None:
    raw = form.get(name)
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        issues.append(Issue("visit", None, name, "not a number"))
        return None
    if not value.is_finite():
        issues.append(Issue("visit", None, name, "not a number"))
        return None
    return value.quantize(Decimal("0.0000001"))  # about 1 cm


def _hhmm(zone: Any) -> Callable[[datetime | None], str]:
    def fmt(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%H:%M") if at is not None else ""

    return fmt


def _position(form: Mapping[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    issues: list[Issue] = []
    lat, lon = _decimal(form, "latitude", issues), _decimal(form, "longitude", issues)
    if issues:
        raise ValidationError(issues)
    return lat, lon


# --------------------------------------------------------------------------------------------
# The route


@router.get("/visits/mobile")
def route_page(request: Request, day: str = "") -> Response:
    """The signed-in agent's team route for ``day`` (default today), stops in order."""
    from arrears.services import visits

    session = _agent(request)
    ctx = web(request)
    today = ctx.clock.today()
    try:
        chosen = date.fromisoformat(day) if day else today
    except ValueError:
        chosen = today
    with ctx.engine.begin() as conn:
        route = visits.route_for(conn, session.user.actor(), chosen)
    lang = lang_of(request)
    return render(
        request,
        "visit_route.html",
        route=route,
        day=chosen,
        today=today,
        labels=visit_labels(lang.gettext),
        hhmm=_hhmm(lang.zone),
    )


# --------------------------------------------------------------------------------------------
# The visit


def _form_values(state: vr.VisitState) -> dict[str, str]:
    """The record as the form's field values (strings)."""
    rec = state.record or {}
    out: dict[str, str] = {}
    for name in ("met", "outcome", "delinquency_reason", "emotional_state"):
        out[name] = str(rec.get(name) or "")
    for name in ("financial_situation", "follow_up", "note"):
        out[name] = str(rec.get(name) or "")
    out["de_escalated"] = "on" if rec.get("de_escalated") else ""
    paid = rec.get("amount_paid_minor")
    out["amount_paid"] = str(Decimal(paid).scaleb(-2)) if paid is not None else ""
    if state.promise is not None:
        out["promised_by"] = str(state.promise.get("promised_by") or "borrower")
        out["loan_id"] = str(state.promise.get("loan_id") or "")
        for i, (day, minor) in enumerate(state.promise["items"], start=1):
            out[f"date_{i}"] = day.isoformat()
            out[f"amount_{i}"] = str(Decimal(minor).scaleb(-2))
    return out


def _visit_page(
    request: Request,
    visit_id: int,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    form: Mapping[str, Any] | None = None,
    refused: vr.StartResult | None = None,
) -> Response:
    from arrears.services import visits

    session = _reader(request)
    ctx = web(request)
    actor = session.user.actor()
    with ctx.engine.begin() as conn:
        state = vr.visit_state(conn, actor, visit_id)
        stop = visits.visit_for(conn, actor, visit_id)
    values = _form_values(state)
    if form is not None:
        values |= {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    others = [u for u in state.members if u != session.user.username]
    return render(
        request,
        "visit_mobile.html",
        status_code=status_code,
        v=state,
        stop=stop,
        values=values,
        errors=errors or [],
        refused=refused,
        radius_m=ctx.visit_checkin_radius_m,
        today=ctx.clock.today(),
        me=session.user.username,
        partner=others[0] if others else "",
        labels=visit_labels(lang_of(request).gettext),
        promised_by=list(PromisedBy),
        evidence_on=ctx.evidence_dir is not None,
        max_mb=vr.EVIDENCE_MAX_BYTES // (1024 * 1024),
    )


@router.get("/visits/{visit_id}/mobile")
def visit_page(request: Request, visit_id: int) -> Response:
    return _visit_page(request, visit_id)


def _answer(
    request: Request,
    visit_id: int,
    anchor: str,
    exc: ValidationError | None,
    form: Mapping[str, Any],
    payload: dict[str, Any],
) -> Response:
    if exc is not None:
        if _wants_json(request):
            return JSONResponse({"ok": False, "errors": _problems(exc)}, status_code=422)
        return _visit_page(request, visit_id, 422, exc.issues, form)
    if _wants_json(request):
        return JSONResponse({"ok": True, **payload})
    return RedirectResponse(f"/visits/{visit_id}/mobile#{anchor}", status_code=303)


def _conflict(request: Request, exc: Conflict) -> Response:
    if _wants_json(request):
        return JSONResponse({"ok": False, "conflict": str(exc)}, status_code=409)
    raise exc


@router.post("/visits/{visit_id}/start")
async def start(request: Request, visit_id: int) -> Response:
    """Check in: the gate is asked; a refusal is kept and shown with its reasons."""
    session = _agent(request)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    try:
        lat, lon = _position(form)
        with ctx.engine.begin() as conn:
            result = vr.start_visit(
                conn,
                session.user.actor(),
                visit_id,
                lat,
                lon,
                [str(form.get("agent_1") or ""), str(form.get("agent_2") or "")],
                form.get("recording") == "on",
                str(form.get("reason") or "") or None,
                ctx.clock.now(),
                ctx.visit_checkin_radius_m,
                pack_by_id(ctx.compliance_pack),
                ctx.lender_timezone,
            )
    except ValidationError as exc:
        return _answer(request, visit_id, "start", exc, form, {})
    except Conflict as exc:
        return _conflict(request, exc)
    if not result.allowed:
        lang = lang_of(request)
        reason = result.reasons.get("zh-CN" if lang.locale == "zh_CN" else "en", "")
        if _wants_json(request):
            return JSONResponse(
                {
                    "ok": False,
                    "blocked_by": list(result.blocked_by),
                    "reason": reason,
                    "decision_id": result.decision_id,
                },
                status_code=409,
            )
        return _visit_page(request, visit_id, 409, refused=result)
    payload = {"status": "started", "distance_m": result.distance_m}
    return _answer(request, visit_id, "record", None, form, payload)


@router.post("/visits/{visit_id}/record")
async def save(request: Request, visit_id: int) -> Response:
    session = _agent(request)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    try:
        rec = vr.parse_record(form)
        with ctx.engine.begin() as conn:
            result = vr.save_record(
                conn,
                session.user.actor(),
                visit_id,
                rec,
                ctx.clock.now(),
                str(form.get("client_ref") or "") or None,
                lender_tz=ctx.lender_timezone,
                products=ctx.products,
            )
    except ValidationError as exc:
        return _answer(request, visit_id, "record", exc, form, {})
    except Conflict as exc:
        return _conflict(request, exc)
    payload = {
        "repeated": result.repeated,
        "promise_id": result.promise_id,
        "flagged": result.note_flagged,
    }
    return _answer(request, visit_id, "record", None, form, payload)


@router.post("/visits/{visit_id}/end")
async def end(request: Request, visit_id: int) -> Response:
    session = _agent(request)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    try:
        lat, lon = _position(form)
        with ctx.engine.begin() as conn:
            result = vr.end_visit(
                conn,
                session.user.actor(),
                visit_id,
                lat,
                lon,
                str(form.get("reason") or "") or None,
                ctx.clock.now(),
                radius_m=ctx.visit_checkin_radius_m,
            )
    except ValidationError as exc:
        return _answer(request, visit_id, "end", exc, form, {})
    except Conflict as exc:
        return _conflict(request, exc)
    payload = {"status": "done", "distance_m": result.distance_m}
    return _answer(request, visit_id, "top", None, form, payload)


@router.post("/visits/{visit_id}/evidence")
async def evidence(request: Request, visit_id: int) -> Response:
    session = _agent(request)
    ctx = web(request)
    if ctx.evidence_dir is None:
        raise Conflict("no evidence directory is configured (ARREARS_EVIDENCE_DIR)")
    form = await request.form(max_files=1, max_part_size=vr.EVIDENCE_MAX_BYTES)
    check_csrf(session, form)
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise ValidationError([Issue("visit", None, "file", "choose a photo or a recording")])
        data = await upload.read(vr.EVIDENCE_MAX_BYTES + 1)
        with ctx.engine.begin() as conn:
            row = vr.add_evidence(
                conn,
                session.user.actor(),
                visit_id,
                upload.filename or "evidence",
                upload.content_type or "application/octet-stream",
                data,
                ctx.clock.now(),
                ctx.evidence_dir,
                lender_tz=ctx.lender_timezone,
            )
    except ValidationError as exc:
        return _answer(request, visit_id, "evidence", exc, {}, {})
    except Conflict as exc:
        return _conflict(request, exc)
    payload = {
        "evidence_id": row.evidence_id,
        "sha256": row.sha256,
        "retention_until": row.retention_until.isoformat(),
    }
    return _answer(request, visit_id, "evidence", None, {}, payload)


@router.get("/visits/{visit_id}/evidence/{evidence_id}")
def evidence_download(request: Request, visit_id: int, evidence_id: int) -> Response:
    session = _reader(request)
    ctx = web(request)
    if ctx.evidence_dir is None:
        raise Conflict("no evidence directory is configured (ARREARS_EVIDENCE_DIR)")
    with ctx.engine.begin() as conn:
        row, path = vr.evidence_file(
            conn, session.user.actor(), visit_id, evidence_id, ctx.evidence_dir, ctx.clock.now()
        )
    inline = row.mime in _INLINE
    return FileResponse(
        path,
        media_type=row.mime if inline else "application/octet-stream",
        filename=row.filename,
        content_disposition_type="inline" if inline else "attachment",
        headers={"X-Evidence-SHA256": row.sha256},
    )


@router.get("/visits/{visit_id}/dossier")
def dossier(request: Request, visit_id: int, locale: str = "zh_CN") -> Response:
    """The visit's dossier as a PDF (3.2: prepare): the team's agents and managers. The
    borrower's data is shown in full for the visit — an audited unmasking with the visit as
    the reason; roles that may not unmask get the masked dossier."""
    session = _reader(request)
    ctx = web(request)
    actor = session.user.actor()
    now, today = ctx.clock.now(), ctx.clock.today()
    with ctx.engine.begin() as conn:
        state = vr.visit_state(conn, actor, visit_id)
        found = gather_dossier(
            conn,
            actor,
            state.borrower_id,
            locale=locale,
            reference=f"VISIT-{visit_id}",
            prepared_on=today,
            today=today,
            now=now,
            products=ctx.products,
            prepared_for=tuple(state.members.values()) or (session.user.display_name,),
            unmask_reason=(
                f"visit {visit_id} dossier"
                if may(session.user.role, Permission.UNMASK_PII)
                else None
            ),
            pack=pack_by_id(ctx.compliance_pack),
            lender_timezone=ctx.lender_timezone,
            client=client_of(request),
        )
    pdf = dossier_pdf(found)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="visit-{visit_id}-{locale}.pdf"'},
    )
