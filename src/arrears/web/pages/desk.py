"""The collector's pages: the work queue and the account view (notes, contact outcomes)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from arrears.domain.compliance import pack_by_id
from arrears.domain.contacts import Channel, ContactOutcome, DelinquencyReason
from arrears.domain.errors import Forbidden, Issue, ValidationError
from arrears.domain.people import Permission, may
from arrears.services import desk, plans, promises
from arrears.services.access import fetch_borrower
from arrears.services.auth import Session
from arrears.services.contact_gate import GateAnswer, check_call
from arrears.web.charts import line_chart
from arrears.web.context import (
    check_csrf,
    client_of,
    label_module,
    lang_of,
    render,
    require,
    web,
)
from arrears.web.rows import payment_rows, queue_rows, schedule_rows

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
PROMISE_DAYS = 90  # the collector's own kept rate over promises made in the last N days
PLAN_ROWS = 50  # plans listed on the account view


def _read_permission(request: Request, conn: Connection | None = None) -> Session:
    session = require(request, conn=conn)
    role = session.user.role
    if not (
        may(role, Permission.READ_ASSIGNED_ACCOUNTS) or may(role, Permission.READ_ALL_ACCOUNTS)
    ):
        raise Forbidden("your role may not open accounts")
    return session


# The work queue and the account view are the desk's hot pages: their handlers are
# ``async`` and do their few milliseconds of reads and rendering on the event loop instead of
# a worker thread. The work is CPU under the GIL either way; the thread hop and the GIL
# hand-offs it brings cost more than the short database waits it would overlap (measured
# under load, docs/benchmarks.md). Slow pages keep running in the thread pool.


@router.get("/queue")
async def queue(
    request: Request,
    sort: str = "dpd",
    dir: str = "desc",
    page: int = 1,
) -> Response:
    ctx = web(request)
    try:
        order = desk.QueueSort(sort)
    except ValueError:
        order = desk.QueueSort.DPD
    page = max(1, page)
    # The page only reads: its three statements run without BEGIN and COMMIT (two round
    # trips fewer), each on its own snapshot — the rows and their count share one statement.
    with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, conn.begin():
        session = require(request, Permission.READ_ASSIGNED_ACCOUNTS, conn=conn)
        rows, total, as_of = desk.work_queue_page(
            conn,
            session.user.actor(),
            order,
            descending=dir != "asc",
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        since = ctx.clock.today() - timedelta(days=PROMISE_DAYS)
        mine = promises.collector_promise_stats(conn, since, recorded_by=session.user.username)
    return render(
        request,
        "queue.html",
        row_html=queue_rows(rows, lang_of(request)),
        promise_stats=mine[0] if mine else None,
        promise_days=PROMISE_DAYS,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        sort=order.value,
        dir="asc" if dir == "asc" else "desc",
        as_of=as_of,
    )


def _account_page(
    request: Request,
    borrower_id: str,
    unmask_reason: str | None = None,
    status_code: int = 200,
    errors: list[Issue] | None = None,
    gate: GateAnswer | None = None,
) -> Response:
    ctx = web(request)
    today = ctx.clock.today()
    # One transaction for the page, the session lookup included.
    with ctx.engine.begin() as conn:
        session = _read_permission(request, conn)
        borrower = fetch_borrower(
            conn,
            session.user.actor(),
            borrower_id,
            ctx.clock.now(),
            purpose="account_view",
            unmask_reason=unmask_reason,
            client=client_of(request),
        )
        since = today - timedelta(days=180)
        # The reads below, sent together (one round trip on PostgreSQL) once the borrower is
        # known to be in scope.
        with desk.account_view_prefetch(conn, borrower_id, today, since, PLAN_ROWS):
            loans, cycled = desk.loans_with_cycled_status(conn, borrower_id, today)
            ids = [lo["loan_id"] for lo in loans]
            plan_rows = plans.plans_of(conn, borrower_id, limit=PLAN_ROWS)
            status = desk.live_status(
                conn,
                ids,
                today,
                ctx.products,
                cycled=cycled,
                # All the account's plans when fewer than the list's limit: the overlay then
                # needs no query of its own unless one of them applies.
                known_plans=plan_rows if len(plan_rows) < PLAN_ROWS else None,
            )
            schedules = desk.account_schedules(conn, borrower_id, status, today)
            payments = desk.account_payments(conn, borrower_id)
            history = desk.status_history_of(conn, borrower_id, since=since)
            notes = desk.recent_notes(conn, borrower_id)
            contacts = desk.recent_contacts(conn, borrower_id)
            promise_rows = promises.promises_of(conn, borrower_id)
    lang = lang_of(request)
    chart = line_chart(
        [(lang.date(h["as_of"]), float(h["dpd"])) for h in history],
        title=lang.gettext("Days past due, last 180 days"),
    )
    labels = label_module(request, "_labels.html")
    currency = {lo["loan_id"]: lo["currency"] for lo in loans}
    return render(
        request,
        "account.html",
        status_code=status_code,
        schedule_html={
            loan_id: schedule_rows(rows, currency[loan_id], lang, labels.state)
            for loan_id, rows in schedules.items()
        },
        payment_html=payment_rows(payments, lang),
        b=borrower,
        loans=loans,
        status=status,
        payments=payments,
        chart=chart,
        notes=notes,
        contacts=contacts,
        promises=promise_rows,
        promise_stats=_kept_rate(promise_rows),
        plans=plan_rows,
        today=today,
        outcomes=list(ContactOutcome),
        channels=list(Channel),
        reasons=list(DelinquencyReason),
        errors=errors or [],
        gate=gate,
        labels=labels,
        pl=label_module(request, "plans_labels.html"),
    )


def _kept_rate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    settled = [r for r in rows if r["status"] in ("kept", "partly_kept", "broken")]
    kept = sum(1 for r in settled if r["status"] == "kept")
    return {"kept": kept, "settled": len(settled), "rate": kept / len(settled) if settled else None}


@router.get("/accounts/{borrower_id}")
async def account(request: Request, borrower_id: str) -> Response:
    return _account_page(request, borrower_id)


@router.post("/accounts/{borrower_id}/unmask")
async def unmask(request: Request, borrower_id: str) -> Response:
    """The account with personal data shown, for this page view only; the reason is audited."""
    session = require(request, Permission.UNMASK_PII)
    form = await request.form()
    check_csrf(session, form)
    return _account_page(request, borrower_id, unmask_reason=str(form.get("reason", "")))


@router.post("/accounts/{borrower_id}/call-check")
async def call_check(request: Request, borrower_id: str) -> Response:
    """A collector is about to call: the gate decides (and the decision is kept)."""
    session = require(request, Permission.LOG_CONTACTS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    with ctx.engine.begin() as conn:
        answer = check_call(
            conn,
            session.user.actor(),
            borrower_id,
            ctx.clock.now(),
            pack_by_id(ctx.compliance_pack),
            ctx.lender_timezone,
        )
    return _account_page(request, borrower_id, gate=answer)


@router.post("/accounts/{borrower_id}/notes")
async def add_note(request: Request, borrower_id: str) -> Response:
    session = require(request, Permission.WRITE_NOTES)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    try:
        with ctx.engine.begin() as conn:
            desk.add_note(
                conn,
                session.user.actor(),
                borrower_id,
                str(form.get("body", "")),
                ctx.clock.now(),
                loan_id=str(form.get("loan_id") or "") or None,
            )
    except ValidationError as exc:
        return _account_page(request, borrower_id, status_code=422, errors=exc.issues)
    return RedirectResponse(f"/accounts/{borrower_id}#notes", status_code=303)


def _contact_input(form: Any) -> desk.ContactInput:
    issues = []

    def choice(name: str, kind: Any, required: bool) -> Any:
        raw = str(form.get(name) or "")
        if not raw:
            if required:
                issues.append(Issue("form", None, name, "choose one"))
            return None
        try:
            return kind(raw)
        except ValueError:
            issues.append(Issue("form", None, name, f"unknown value {raw!r}"))
            return None

    outcome = choice("outcome", ContactOutcome, True)
    channel = choice("channel", Channel, False) or Channel.PHONE
    reason = choice("reason", DelinquencyReason, False)
    next_on = None
    if form.get("next_action_on"):
        try:
            next_on = date.fromisoformat(str(form.get("next_action_on")))
        except ValueError:
            issues.append(Issue("form", None, "next_action_on", "not a date (YYYY-MM-DD)"))
    if issues:
        raise ValidationError(issues)
    if outcome is not ContactOutcome.PROMISE_TO_PAY and (
        form.get("promise_date") or form.get("promise_amount")
    ):
        raise ValidationError(
            [
                Issue(
                    "form",
                    None,
                    "outcome",
                    "a promised date or amount needs the outcome 'promise to pay'",
                )
            ]
        )
    return desk.ContactInput(
        outcome=outcome,
        channel=channel,
        right_party=form.get("right_party") == "on",
        reason=reason,
        next_action_on=next_on,
        remark=str(form.get("remark") or "") or None,
        loan_id=str(form.get("loan_id") or "") or None,
    )


@router.post("/accounts/{borrower_id}/contacts")
async def log_contact(request: Request, borrower_id: str) -> Response:
    session = require(request, Permission.LOG_CONTACTS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    try:
        contact = _contact_input(form)
        pairs = [(str(form.get("promise_date") or ""), str(form.get("promise_amount") or ""))]
        items = promises.parse_items(pairs)
        now = ctx.clock.now()
        with ctx.engine.begin() as conn:
            attempt_id, _ = desk.log_contact(conn, session.user.actor(), borrower_id, contact, now)
            if items:
                promise = promises.PromiseInput(
                    tuple(items),
                    channel=contact.channel,
                    loan_id=contact.loan_id,
                    attempt_id=attempt_id,
                )
                promises.record_promise(
                    conn, session.user.actor(), borrower_id, promise, now,
                    ctx.clock.today(), ctx.products,
                )  # fmt: skip
    except ValidationError as exc:
        return _account_page(request, borrower_id, status_code=422, errors=exc.issues)
    return RedirectResponse(f"/accounts/{borrower_id}#contacts", status_code=303)


@router.post("/accounts/{borrower_id}/promises")
async def record_promise(request: Request, borrower_id: str) -> Response:
    session = require(request, Permission.LOG_CONTACTS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    try:
        items = promises.parse_items(
            [
                (str(form.get(f"date_{i}") or ""), str(form.get(f"amount_{i}") or ""))
                for i in (1, 2, 3)
            ]
        )
        try:
            channel = Channel(str(form.get("channel") or "phone"))
            by = promises.PromisedBy(str(form.get("promised_by") or "borrower"))
        except ValueError as exc:
            raise ValidationError([Issue("form", None, "channel", str(exc))]) from None
        promise = promises.PromiseInput(
            tuple(items),
            channel=channel,
            promised_by=by,
            loan_id=str(form.get("loan_id") or "") or None,
            note=str(form.get("note") or "") or None,
        )
        with ctx.engine.begin() as conn:
            promises.record_promise(
                conn, session.user.actor(), borrower_id, promise, ctx.clock.now(),
                ctx.clock.today(), ctx.products,
            )  # fmt: skip
    except ValidationError as exc:
        return _account_page(request, borrower_id, status_code=422, errors=exc.issues)
    return RedirectResponse(f"/accounts/{borrower_id}#promises", status_code=303)
