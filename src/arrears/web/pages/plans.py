"""Repayment plans: the calculator of an account's loan, the plan page (approve or reject,
record the borrower's acceptance, the agreement PDF) and the approvers' list.

Account routes answer as the account page does: a role that may not open accounts gets 403,
an account outside the user's scope 404, then a missing permission 403.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from arrears.domain.errors import Forbidden, Issue, NotFound, ValidationError
from arrears.domain.money import to_minor
from arrears.domain.negotiation import (
    IncomeExpenditure,
    PlanKind,
    ReinstateRule,
    check_approval,
)
from arrears.domain.people import Permission, may
from arrears.domain.products import RepaymentMethod
from arrears.services import plans
from arrears.services.access import check_account
from arrears.services.auth import Session
from arrears.web.context import check_csrf, client_of, lang_of, render, require, web

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _account(request: Request, borrower_id: str, permission: Permission | None) -> Session:
    """403 for a role that may not open accounts, 404 outside the scope, 403 without
    ``permission`` (in that order, like the account page)."""
    session = require(request)
    role = session.user.role
    if not (
        may(role, Permission.READ_ASSIGNED_ACCOUNTS) or may(role, Permission.READ_ALL_ACCOUNTS)
    ):
        raise Forbidden("your role may not open accounts")
    ctx = web(request)
    with ctx.engine.connect() as conn:
        check_account(conn, session.user.actor(), borrower_id)
    if permission is not None and not may(role, permission):
        raise Forbidden("your role may not do this with repayment plans")
    return session


def _money_of(lang: Any) -> Any:
    def money(value: Decimal | int | None, currency: str = "CNY") -> str:
        if value is None:
            return ""
        minor = value if isinstance(value, int) else to_minor(value)
        return str(lang.money(minor, currency))

    return money


def _income_form(ie: IncomeExpenditure | None) -> dict[str, str]:
    if ie is None:
        return {}
    return {
        "income": str(ie.monthly_income),
        "household_size": str(ie.household_size),
        "rent": str(ie.rent),
        "other_debts": str(ie.other_debt_payments),
        "essential_costs": str(ie.essential_costs),
        "lump_sum": str(ie.lump_sum_available),
    }


def _calculator(
    request: Request,
    session: Session,
    borrower_id: str,
    loan_id: str | None,
    form: Mapping[str, Any] | None = None,
    status_code: int = 200,
    errors: list[Issue] | None = None,
) -> Response:
    ctx = web(request)
    lang = lang_of(request)
    issues = list(errors or [])
    income = None
    if form is not None:
        try:
            income = plans.parse_income(form)
        except ValidationError as exc:
            issues += exc.issues
            status_code = 422
    with ctx.engine.connect() as conn:
        options = plans.plan_options(
            conn,
            session.user.actor(),
            borrower_id,
            loan_id,
            ctx.clock.today(),
            ctx.products,
            income=income,
        )
    values = dict(_income_form(income))
    if form is not None:
        values |= {k: str(v) for k, v in form.items() if k != "csrf_token"}
    return render(
        request,
        "plans_calculator.html",
        status_code=status_code,
        borrower_id=borrower_id,
        o=options,
        s=options.snapshot,
        form=values,
        errors=issues,
        kinds=list(PlanKind),
        methods=list(RepaymentMethod),
        reinstates=list(ReinstateRule),
        today=ctx.clock.today(),
        money=_money_of(lang),
    )


@router.get("/accounts/{borrower_id}/plans/calculator")
def calculator(request: Request, borrower_id: str, loan_id: str | None = None) -> Response:
    session = _account(request, borrower_id, Permission.PROPOSE_PLANS)
    return _calculator(request, session, borrower_id, loan_id or None)


@router.post("/accounts/{borrower_id}/plans/calculator")
async def calculate(request: Request, borrower_id: str) -> Response:
    """The options for the borrower's income and expenditure (nothing is stored)."""
    session = _account(request, borrower_id, Permission.PROPOSE_PLANS)
    form = await request.form()
    check_csrf(session, form)
    return _calculator(
        request, session, borrower_id, str(form.get("loan_id") or "") or None, form=form
    )


@router.post("/accounts/{borrower_id}/plans")
async def propose(request: Request, borrower_id: str) -> Response:
    session = _account(request, borrower_id, Permission.PROPOSE_PLANS)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    loan_id = str(form.get("loan_id") or "") or None
    try:
        plan_request = plans.parse_request(form)
        with ctx.engine.begin() as conn:
            plan_id = plans.propose_plan(
                conn,
                session.user.actor(),
                borrower_id,
                loan_id,
                plan_request,
                ctx.clock.today(),
                ctx.clock.now(),
                ctx.products,
            )
    except ValidationError as exc:
        return _calculator(
            request, session, borrower_id, loan_id, form=form, status_code=422, errors=exc.issues
        )
    return RedirectResponse(f"/accounts/{borrower_id}/plans/{plan_id}", status_code=303)


def _plan_page(
    request: Request,
    session: Session,
    borrower_id: str,
    plan_id: int,
    status_code: int = 200,
    errors: list[Issue] | None = None,
) -> Response:
    ctx = web(request)
    lang = lang_of(request)
    actor = session.user.actor()
    with ctx.engine.connect() as conn:
        view = plans.plan_view(conn, actor, plan_id, ctx.clock.today(), ctx.products)
    if view.row["borrower_id"] != borrower_id:
        raise NotFound(f"no plan {plan_id}")
    role = session.user.role
    limits = plans.limits_of(role)
    verdict = None
    if may(role, Permission.APPROVE_PLANS) and limits is not None:
        verdict = check_approval(view.terms, view.row["proposed_by"], actor.name, limits)
    return render(
        request,
        "plans_plan.html",
        status_code=status_code,
        borrower_id=borrower_id,
        v=view,
        p=view.row,
        terms=view.terms,
        ev=view.evaluation,
        verdict=verdict,
        hows=list(plans.AcceptedHow),
        errors=errors or [],
        today=ctx.clock.today(),
        money=_money_of(lang),
    )


@router.get("/accounts/{borrower_id}/plans/{plan_id}")
def plan_page(request: Request, borrower_id: str, plan_id: int) -> Response:
    session = _account(request, borrower_id, None)
    return _plan_page(request, session, borrower_id, plan_id)


async def _plan_action(
    request: Request,
    borrower_id: str,
    plan_id: int,
    permission: Permission,
    action: str,
) -> Response:
    session = _account(request, borrower_id, permission)
    form = await request.form()
    check_csrf(session, form)
    ctx = web(request)
    actor = session.user.actor()
    try:
        with ctx.engine.begin() as conn:
            row = plans.plan_row(conn, actor, plan_id)
            if row.borrower_id != borrower_id:
                raise NotFound(f"no plan {plan_id}")
            if action == "decision":
                choice = str(form.get("decision") or "")
                if choice not in ("approve", "reject"):
                    raise ValidationError([Issue("plan", None, "decision", "approve or reject")])
                plans.decide_plan(
                    conn,
                    actor,
                    plan_id,
                    choice == "approve",
                    str(form.get("reason") or ""),
                    ctx.clock.now(),
                    ctx.clock.today(),
                )
            elif action == "acceptance":
                plans.record_acceptance(
                    conn,
                    actor,
                    plan_id,
                    str(form.get("how") or ""),
                    str(form.get("reference") or ""),
                    ctx.clock.now(),
                    ctx.clock.today(),
                )
            else:
                plans.cancel_plan(
                    conn,
                    actor,
                    plan_id,
                    str(form.get("reason") or ""),
                    ctx.clock.now(),
                    ctx.clock.today(),
                )
    except ValidationError as exc:
        return _plan_page(request, session, borrower_id, plan_id, 422, exc.issues)
    return RedirectResponse(f"/accounts/{borrower_id}/plans/{plan_id}", status_code=303)


@router.post("/accounts/{borrower_id}/plans/{plan_id}/decision")
async def decide(request: Request, borrower_id: str, plan_id: int) -> Response:
    return await _plan_action(request, borrower_id, plan_id, Permission.APPROVE_PLANS, "decision")


@router.post("/accounts/{borrower_id}/plans/{plan_id}/acceptance")
async def accept(request: Request, borrower_id: str, plan_id: int) -> Response:
    return await _plan_action(request, borrower_id, plan_id, Permission.PROPOSE_PLANS, "acceptance")


@router.post("/accounts/{borrower_id}/plans/{plan_id}/cancel")
async def cancel(request: Request, borrower_id: str, plan_id: int) -> Response:
    return await _plan_action(request, borrower_id, plan_id, Permission.PROPOSE_PLANS, "cancel")


@router.get("/plans/approvals")
def approvals(request: Request) -> Response:
    session = require(request, Permission.APPROVE_PLANS)
    ctx = web(request)
    lang = lang_of(request)
    with ctx.engine.connect() as conn:
        rows = plans.pending_approvals(conn, session.user.actor())
    return render(request, "plans_approvals.html", rows=rows, money=_money_of(lang))


@router.get("/accounts/{borrower_id}/plans/{plan_id}/agreement.pdf")
def agreement(request: Request, borrower_id: str, plan_id: int, locale: str = "zh_CN") -> Response:
    """The agreement PDF (zh_CN or en): a view of the borrower's personal data, audited."""
    session = _account(request, borrower_id, Permission.UNMASK_PII)
    ctx = web(request)
    actor = session.user.actor()
    with ctx.engine.begin() as conn:
        if plans.plan_row(conn, actor, plan_id).borrower_id != borrower_id:
            raise NotFound(f"no plan {plan_id}")
        try:
            pdf, digest = plans.agreement_document(
                conn,
                actor,
                plan_id,
                locale,
                ctx.clock.now(),
                ctx.clock.today(),
                lender=ctx.lender_name,
                lender_contact=ctx.object_how,
                client=client_of(request),
            )
        except ValidationError as exc:
            conn.rollback()
            return _plan_page(request, session, borrower_id, plan_id, 422, exc.issues)
    name = f"plan-{plan_id}-agreement-{locale}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-SHA256": digest,
            "Cache-Control": "no-store",
        },
    )
