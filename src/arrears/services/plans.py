"""Repayment plans in the app (issue 5): calculate, propose, approve, accept, monitor.

Built on the pure ``arrears.domain.negotiation`` (docs/negotiation.md, "In the app"):

- :func:`plan_options` — the loan at the opening of the plan's start day (``take_snapshot``
  from the stored loan, installments and payments) and, given the borrower's income and
  expenditure, one option per plan kind (``propose_plans`` within :data:`POLICY`), each with
  the authority decision for the actor's role and the roles that may approve it;
- :func:`propose_plan` — terms from a :class:`PlanRequest` (a kind and its parameters, or
  "the calculator's option of this kind"), checked against the proposer's :data:`ROLE_LIMITS`:
  within them the plan is ``approved`` on the proposer's own authority, beyond them it is
  ``pending_approval`` with the reasons;
- :func:`decide_plan` — four eyes: another person, whose role's limits cover the plan,
  approves or rejects it with a reason;
- :func:`record_acceptance` — the borrower accepts an approved plan (how and a reference):
  the plan is ``active``, the account's open promise is cancelled, a restructure sets the
  loan's ``restructured`` flag;
- :func:`settle_plans` — the daily cycle evaluates every active (and kept, until completed)
  plan against the loan's payments since the start and stores the new state and events;
- :func:`plan_features` — an active plan is an open arrangement for the strategy, a broken
  plan a broken one (``services.promises.promise_features`` merges them).

Every read and write checks the account's scope (``access.check_account``); every decision is
written to the audit log. Borrower data is read only through ``services.access``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, insert, select, update

from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import plan_tables as pt
from arrears.adapters.db import reads
from arrears.adapters.db import tables as t
from arrears.adapters.db.book_store import read_book
from arrears.domain.errors import Forbidden, Issue, NotFound, ValidationError
from arrears.domain.loans import Installment, LoanTerms, Payment
from arrears.domain.money import ZERO, from_minor, to_minor
from arrears.domain.negotiation import (
    AccountSnapshot,
    AffordabilityPolicy,
    AuthorityDecision,
    IncomeExpenditure,
    PlanEvaluation,
    PlanKind,
    PlanOption,
    PlanState,
    PlanTerms,
    Proposal,
    Reason,
    RecoveryComparison,
    ReinstateRule,
    RoleLimits,
    affordability_reasons,
    approver_roles,
    check_approval,
    check_authority,
    compare_recovery,
    deferral_plan,
    disposable_income,
    evaluate_plan,
    expected_recovery_otherwise,
    instalment_plan,
    propose_plans,
    restructure_plan,
    settlement_plan,
    take_snapshot,
    terms_from_data,
    terms_to_data,
    waiver_of,
)
from arrears.domain.negotiation.recovery import RecoveryTable
from arrears.domain.people import Actor, Permission, Role, may
from arrears.domain.products import ProductSettings, RepaymentMethod
from arrears.services.access import BATCH_ACTOR, check_account, visible_accounts
from arrears.services.audit import record

__all__ = [
    "AGREEMENT_STATES",
    "BLOCKING",
    "OFFER_VALID_DAYS",
    "POLICY",
    "ROLE_LIMITS",
    "AcceptedHow",
    "PlanOptions",
    "PlanRequest",
    "PlanStatus",
    "agreement_document",
    "cancel_plan",
    "decide_plan",
    "limits_of",
    "merge_plan_features",
    "next_plan_instalments",
    "parse_income",
    "parse_request",
    "pending_approvals",
    "plan_features",
    "plan_options",
    "plan_row",
    "plan_view",
    "plans_of",
    "propose_plan",
    "record_acceptance",
    "settle_plans",
]


class PlanStatus(StrEnum):
    """A stored plan's status: the domain's ``PlanState`` (active, kept, completed, broken)
    plus the steps before acceptance and the ends by hand."""

    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = PlanState.ACTIVE.value
    KEPT = PlanState.KEPT.value
    COMPLETED = PlanState.COMPLETED.value
    BROKEN = PlanState.BROKEN.value
    CANCELLED = "cancelled"


class AcceptedHow(StrEnum):
    SIGNED_PAPER = "signed_paper"
    RECORDED_CALL = "recorded_call"
    SMS_CODE = "sms_code"
    IN_APP = "in_app"


# A loan with a plan in one of these states takes no new plan.
BLOCKING = frozenset({PlanStatus.PENDING_APPROVAL, PlanStatus.APPROVED, PlanStatus.ACTIVE})
# The cycle monitors these (a kept plan until the contract after it is paid: completed).
MONITORED = (PlanStatus.ACTIVE.value, PlanStatus.KEPT.value)
# An approved plan is accepted at most this many days after its start day: later, the
# snapshot it was built on is stale (propose it again).
OFFER_VALID_DAYS = 7
MIN_REASON = 3

# Authority per role (docs/negotiation.md "In the app"). Waiver and discount are shares.
ROLE_LIMITS: Mapping[Role, RoleLimits] = {
    Role.COLLECTOR: RoleLimits(
        "collector",
        max_waiver_pct=Decimal("0.30"),
        max_settlement_discount_pct=Decimal(0),
        max_term_months=6,
        max_deferral_months=0,
        may_restructure=False,
    ),
    Role.FIELD_AGENT: RoleLimits(
        "field_agent",
        max_waiver_pct=Decimal("0.30"),
        max_settlement_discount_pct=Decimal(0),
        max_term_months=6,
        max_deferral_months=0,
        may_restructure=False,
    ),
    Role.MANAGER: RoleLimits(
        "manager",
        max_waiver_pct=Decimal(1),
        max_settlement_discount_pct=Decimal("0.30"),
        max_term_months=24,
        max_deferral_months=3,
        may_restructure=True,
    ),
}

# The lender's negotiation policy for the calculator (what may be offered at all; the
# proposer's role decides who must approve it).
POLICY = AffordabilityPolicy(
    living_allowance_per_member=Decimal("1000.00"),  # CNY a month per household member
    max_term_months=24,
    min_instalment=Decimal("100.00"),
    max_waiver_pct=Decimal("0.50"),
    max_settlement_discount=Decimal("0.30"),
    max_settlement_payments=3,
    deferral_months=3,
    restructure_max_term=24,
)
RECOVERY = RecoveryTable()


def limits_of(role: Role | None) -> RoleLimits | None:
    return ROLE_LIMITS.get(role) if role is not None else None


# -- requests ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What the agent asks for: a kind and its parameters, or the calculator's option.

    ``months``: instalment months (instalment), the spread after the holiday (deferral), the
    number of payments (settlement), the new term (restructure). Waiver shares are 0..1 of the
    penalty and of the compound interest owed at the start.
    """

    kind: PlanKind
    from_option: bool = False  # take the calculator's option of this kind (needs income)
    months: int | None = None
    down_payment: Decimal = ZERO
    penalty_waiver: Decimal = ZERO
    compound_waiver: Decimal = ZERO
    waiver_conditional: bool = True
    reinstate: ReinstateRule = ReinstateRule.ALL
    settlement_amount: Decimal | None = None
    deferral_months: int | None = None
    annual_rate: Decimal | None = None  # restructure: the new rate (None: the loan's)
    method: RepaymentMethod | None = None  # restructure: the new method (None: annuity)
    income: IncomeExpenditure | None = None


def _issue(column: str, reason: str) -> Issue:
    return Issue("plan", None, column, reason)


def _money(form: Mapping[str, Any], name: str, issues: list[Issue]) -> Decimal | None:
    raw = str(form.get(name) or "").strip().replace(",", "")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        issues.append(_issue(name, f"not an amount: {raw!r}"))
        return None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        issues.append(_issue(name, "a non-negative amount with at most 2 decimals"))
        return None
    return value


def _int(form: Mapping[str, Any], name: str, issues: list[Issue], lo: int, hi: int) -> int | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        issues.append(_issue(name, f"not a whole number: {raw!r}"))
        return None
    if not lo <= value <= hi:
        issues.append(_issue(name, f"must be between {lo} and {hi}, got {value}"))
        return None
    return value


def _percent(form: Mapping[str, Any], name: str, issues: list[Issue]) -> Decimal:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return ZERO
    try:
        value = Decimal(raw)
    except InvalidOperation:
        issues.append(_issue(name, f"not a percentage: {raw!r}"))
        return ZERO
    if not value.is_finite() or not 0 <= value <= 100:
        issues.append(_issue(name, "a percentage between 0 and 100"))
        return ZERO
    return value / 100


def parse_income(form: Mapping[str, Any]) -> IncomeExpenditure | None:
    """The income and expenditure form (``income``, ``household_size``, ``rent``,
    ``other_debts``, ``essential_costs``, ``lump_sum``); None when it was left empty."""
    names = ("income", "household_size", "rent", "other_debts", "essential_costs", "lump_sum")
    if not any(str(form.get(n) or "").strip() for n in names):
        return None
    issues: list[Issue] = []
    income = _money(form, "income", issues)
    size = _int(form, "household_size", issues, 1, 20)
    if income is None and not any(i.column == "income" for i in issues):
        issues.append(_issue("income", "the monthly income is required"))
    if size is None and not any(i.column == "household_size" for i in issues):
        issues.append(_issue("household_size", "the household size is required (1 or more)"))
    values = {n: _money(form, n, issues) for n in names[2:]}
    if issues:
        raise ValidationError(issues)
    if income is None or size is None:  # reported above
        raise ValidationError([_issue("income", "the income form is incomplete")])
    return IncomeExpenditure(
        monthly_income=income,
        household_size=size,
        rent=values["rent"] or ZERO,
        other_debt_payments=values["other_debts"] or ZERO,
        essential_costs=values["essential_costs"] or ZERO,
        lump_sum_available=values["lump_sum"] or ZERO,
    )


def parse_request(form: Mapping[str, Any]) -> PlanRequest:
    """A plan request from the calculator's forms; ValidationError names each bad field."""
    issues: list[Issue] = []
    try:
        kind = PlanKind(str(form.get("kind") or ""))
    except ValueError:
        raise ValidationError([_issue("kind", "choose a plan kind")]) from None
    income: IncomeExpenditure | None = None
    try:
        income = parse_income(form)
    except ValidationError as exc:
        issues += exc.issues
    if form.get("from_option") == "1":
        if income is None and not issues:
            issues.append(_issue("income", "the calculator's options need the income form"))
        if issues:
            raise ValidationError(issues)
        return PlanRequest(kind=kind, from_option=True, income=income)
    months = _int(form, "months", issues, 1, 120)
    deferral = _int(form, "deferral_months", issues, 1, 24)
    rate = None
    if str(form.get("annual_rate") or "").strip():
        pct = _percent(form, "annual_rate", issues)
        rate = pct.quantize(Decimal("0.000001"))
    method = None
    if form.get("method"):
        try:
            method = RepaymentMethod(str(form.get("method")))
        except ValueError:
            issues.append(_issue("method", f"unknown repayment method {form.get('method')!r}"))
    try:
        reinstate = ReinstateRule(str(form.get("reinstate") or "all"))
    except ValueError:
        issues.append(_issue("reinstate", "all or pro_rata"))
        reinstate = ReinstateRule.ALL
    request = PlanRequest(
        kind=kind,
        months=months,
        down_payment=_money(form, "down_payment", issues) or ZERO,
        penalty_waiver=_percent(form, "penalty_waiver_pct", issues),
        compound_waiver=_percent(form, "compound_waiver_pct", issues),
        waiver_conditional=form.get("waiver_unconditional") != "on",
        reinstate=reinstate,
        settlement_amount=_money(form, "settlement_amount", issues),
        deferral_months=deferral,
        annual_rate=rate,
        method=method,
        income=income,
    )
    needs = {
        PlanKind.INSTALMENT: ("months",),
        PlanKind.DEFERRAL: ("deferral_months",),
        PlanKind.SETTLEMENT: ("settlement_amount",),
        PlanKind.RESTRUCTURE: ("months",),
    }[kind]
    for name in needs:
        if getattr(request, name) is None and not any(i.column == name for i in issues):
            issues.append(_issue(name, f"required for a {kind.value} plan"))
    if issues:
        raise ValidationError(issues)
    return request


# -- the account -----------------------------------------------------------------------------


def _loan_of(
    conn: Connection, borrower_id: str, loan_id: str | None
) -> tuple[LoanTerms, list[Installment], list[Payment]]:
    """The loan (the account's first when ``loan_id`` is None) with its ledger, from the store."""
    lo = t.loans.c
    ids = [
        r[0]
        for r in conn.execute(
            select(lo.loan_id).where(lo.borrower_id == borrower_id).order_by(lo.loan_id)
        )
    ]
    if not ids:
        raise NotFound(f"account {borrower_id} has no loans")
    chosen = loan_id or ids[0]
    if chosen not in ids:
        raise ValidationError([_issue("loan_id", f"{chosen} is not a loan of this account")])
    book = read_book(conn, [chosen])
    row = book.loans.to_pylist()[0]
    loan = LoanTerms(
        loan_id=row["loan_id"],
        principal=from_minor(row["principal_minor"]),
        annual_rate=Decimal(row["annual_rate"]),
        term_months=row["term_months"],
        start_date=row["start_date"],
        method=RepaymentMethod(row["method"]),
        borrower_id=row["borrower_id"],
        product=row["product"] or "default",
        penalty_markup=None if row["penalty_markup"] is None else Decimal(row["penalty_markup"]),
        grace_days=row["grace_days"],
    )
    installments = [
        Installment(
            r["seq"],
            r["due_date"],
            from_minor(r["principal_minor"]),
            from_minor(r["interest_minor"]),
        )
        for r in (book.installments.to_pylist() if book.installments is not None else [])
    ]
    if not installments:
        from arrears.domain.schedules import schedule_for

        installments = list(schedule_for(loan))
    payments = [
        Payment(r["payment_id"], r["paid_on"], from_minor(r["amount_minor"]))
        for r in book.payments.to_pylist()
    ]
    return loan, installments, payments


def _product(products: Mapping[str, ProductSettings] | None, code: str) -> ProductSettings:
    found = products or {}
    return found.get(code) or found.get("default") or ProductSettings()


def _snapshot(
    conn: Connection,
    borrower_id: str,
    loan_id: str | None,
    start: date,
    products: Mapping[str, ProductSettings] | None,
) -> AccountSnapshot:
    """The loan at the opening of ``start``; without ``loan_id``, the account's loan with the
    most due now (the first by id on a tie)."""
    if loan_id is not None:
        loan, installments, payments = _loan_of(conn, borrower_id, loan_id)
        return take_snapshot(loan, installments, payments, start, _product(products, loan.product))
    lo = t.loans.c
    ids = [
        r[0]
        for r in conn.execute(
            select(lo.loan_id).where(lo.borrower_id == borrower_id).order_by(lo.loan_id)
        )
    ]
    if not ids:
        raise NotFound(f"account {borrower_id} has no loans")
    snaps = [_snapshot(conn, borrower_id, i, start, products) for i in ids]
    return max(snaps, key=lambda snap: snap.total_due_now)  # the first of the largest


@dataclass(frozen=True, slots=True)
class OptionView:
    option: PlanOption
    approvers: tuple[str, ...]  # roles whose limits cover it (empty: none)


@dataclass(frozen=True, slots=True)
class PlanOptions:
    snapshot: AccountSnapshot
    loan_ids: tuple[str, ...]
    limits: RoleLimits | None
    policy: AffordabilityPolicy
    income: IncomeExpenditure | None
    expected_otherwise: Decimal
    proposal: Proposal | None = None
    options: tuple[OptionView, ...] = field(default_factory=tuple)


def plan_options(
    conn: Connection,
    actor: Actor,
    borrower_id: str,
    loan_id: str | None,
    as_of: date,
    products: Mapping[str, ProductSettings] | None,
    income: IncomeExpenditure | None = None,
    policy: AffordabilityPolicy | None = None,
    recovery: RecoveryTable | None = None,
) -> PlanOptions:
    """The loan at the opening of ``as_of`` and, with an income form, the affordable options
    (each with its authority decision for ``actor``'s role) and why the other kinds are out."""
    check_account(conn, actor, borrower_id)
    pol = policy or POLICY
    table = recovery or RECOVERY
    snap = _snapshot(conn, borrower_id, loan_id, as_of, products)
    lo = t.loans.c
    ids = tuple(
        r[0]
        for r in conn.execute(
            select(lo.loan_id).where(lo.borrower_id == borrower_id).order_by(lo.loan_id)
        )
    )
    limits = limits_of(actor.role)
    base = PlanOptions(
        snapshot=snap,
        loan_ids=ids,
        limits=limits,
        policy=pol,
        income=income,
        expected_otherwise=expected_recovery_otherwise(snap, table),
    )
    if income is None:
        return base
    proposal = propose_plans(snap, income, pol, role=limits, recovery=table)
    roles = list(ROLE_LIMITS.values())
    views = tuple(
        OptionView(o, approver_roles(o.terms, roles) if o.terms is not None else ())
        for o in proposal.options
    )
    return replace(base, proposal=proposal, options=views)


def _terms(snap: AccountSnapshot, request: PlanRequest, pol: AffordabilityPolicy) -> PlanTerms:
    if request.from_option:
        if request.income is None:
            raise ValidationError([_issue("income", "the calculator's options need the income")])
        proposal = propose_plans(snap, request.income, pol)
        option = next(o for o in proposal.options if o.kind is request.kind)
        if option.terms is None:
            text = "; ".join(r.text for r in option.reasons)
            raise ValidationError([_issue("kind", f"no {request.kind.value} plan fits: {text}")])
        return option.terms
    waiver = None
    if request.penalty_waiver or request.compound_waiver:
        waiver = waiver_of(snap, request.penalty_waiver, request.compound_waiver)
    kind = request.kind
    if kind is PlanKind.INSTALMENT:
        return instalment_plan(
            snap,
            request.months or 0,
            down_payment=request.down_payment,
            waiver=waiver,
            waiver_conditional=request.waiver_conditional,
            reinstate=request.reinstate,
            grace_days=pol.grace_days,
        )
    if kind is PlanKind.DEFERRAL:
        return deferral_plan(
            snap,
            request.deferral_months or 0,
            spread_months=request.months or 1,
            waiver=waiver,
            waiver_conditional=request.waiver_conditional,
            reinstate=request.reinstate,
            grace_days=pol.grace_days,
        )
    if kind is PlanKind.SETTLEMENT:
        return settlement_plan(
            snap,
            request.settlement_amount or ZERO,
            payments=request.months or 1,
            grace_days=pol.grace_days,
        )
    return restructure_plan(
        snap,
        request.months or 0,
        annual_rate=request.annual_rate,
        method=request.method or RepaymentMethod.ANNUITY,
        waiver=waiver,
        waiver_conditional=request.waiver_conditional,
        reinstate=request.reinstate,
        grace_days=pol.grace_days,
    )


def _reasons_text(reasons: Sequence[Reason]) -> str | None:
    return "\n".join(f"{r.code}: {r.text}" for r in reasons) or None


def _income_data(ie: IncomeExpenditure | None) -> dict[str, Any] | None:
    if ie is None:
        return None
    return {
        "monthly_income": str(ie.monthly_income),
        "household_size": ie.household_size,
        "rent": str(ie.rent),
        "other_debt_payments": str(ie.other_debt_payments),
        "essential_costs": str(ie.essential_costs),
        "lump_sum_available": str(ie.lump_sum_available),
    }


def _event(
    conn: Connection,
    plan_id: int,
    kind: str,
    on: date,
    now: datetime,
    amount: Decimal = ZERO,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Store an event unless the plan has it already (same kind and date)."""
    e = pt.plan_events.c
    found = conn.execute(
        select(e.event_id).where(e.plan_id == plan_id, e.kind == kind, e.on == on)
    ).first()
    if found is not None:
        return False
    conn.execute(
        insert(pt.plan_events).values(
            plan_id=plan_id,
            kind=kind,
            on=on,
            amount_minor=to_minor(amount),
            detail=detail or {},
            recorded_at=now,
        )
    )
    return True


def _require(actor: Actor, permission: Permission) -> RoleLimits | None:
    if actor.role is None or not may(actor.role, permission):
        raise Forbidden("your role may not do this with repayment plans")
    return limits_of(actor.role)


def propose_plan(
    conn: Connection,
    actor: Actor,
    borrower_id: str,
    loan_id: str | None,
    request: PlanRequest,
    as_of: date,
    now: datetime,
    products: Mapping[str, ProductSettings] | None,
    policy: AffordabilityPolicy | None = None,
) -> int:
    """Store a plan proposed by ``actor`` starting on ``as_of``; returns its id.

    Within the proposer's limits it is ``approved`` on their own authority (recorded so),
    beyond them ``pending_approval`` with the reasons."""
    limits = _require(actor, Permission.PROPOSE_PLANS)
    check_account(conn, actor, borrower_id)
    if limits is None:
        raise Forbidden("your role has no authority limits for repayment plans")
    pol = policy or POLICY
    snap = _snapshot(conn, borrower_id, loan_id, as_of, products)
    p = pt.plans.c
    open_plan = conn.execute(
        select(p.plan_id, p.status).where(
            p.loan_id == snap.loan_id, p.status.in_([s.value for s in BLOCKING])
        )
    ).first()
    if open_plan is not None:
        raise ValidationError(
            [
                _issue(
                    "loan_id",
                    f"loan {snap.loan_id} already has plan {open_plan.plan_id} "
                    f"({open_plan.status}): cancel it before proposing another",
                )
            ]
        )
    terms = _terms(snap, request, pol)
    decision = check_authority(terms, limits)
    if decision.needs_approval and not approver_roles(terms, list(ROLE_LIMITS.values())):
        raise ValidationError(
            [_issue("kind", f"no role may approve this plan: {r.text}") for r in decision.reasons]
        )
    status = PlanStatus.PENDING_APPROVAL if decision.needs_approval else PlanStatus.APPROVED
    own = None if decision.needs_approval else f"within the {limits.role}'s own authority"
    result = conn.execute(
        insert(pt.plans).values(
            borrower_id=borrower_id,
            loan_id=snap.loan_id,
            kind=terms.kind.value,
            status=status.value,
            terms=terms_to_data(terms),
            start_on=terms.start,
            payable_minor=to_minor(terms.payable),
            waived_minor=to_minor(terms.waiver.total),
            income_expenditure=_income_data(request.income),
            proposed_by=actor.name,
            proposed_role=limits.role,
            proposed_at=now,
            approval_required=decision.needs_approval,
            approval_reasons=_reasons_text(decision.reasons),
            decided_by=None if decision.needs_approval else actor.name,
            decided_at=None if decision.needs_approval else now,
            decision_reason=own,
        )
    )
    plan_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    _event(conn, plan_id, "proposed", as_of, now, terms.payable, {"by": actor.name})
    if not decision.needs_approval:
        _event(conn, plan_id, "approved", as_of, now, detail={"by": actor.name, "own": True})
    record(
        conn,
        actor,
        "propose_plan",
        "borrower",
        borrower_id,
        now,
        reason=own,
        detail={
            "plan_id": plan_id,
            "loan_id": snap.loan_id,
            "kind": terms.kind.value,
            "status": status.value,
            "payable": str(terms.payable),
            "waived": str(terms.waiver.total),
            "reasons": [r.code for r in decision.reasons],
        },
    )
    return plan_id


def plan_row(conn: Connection, actor: Actor, plan_id: int) -> Any:
    """The stored plan (NotFound unless it exists and its account is in ``actor``'s scope)."""
    row = conn.execute(select(pt.plans).where(pt.plans.c.plan_id == plan_id)).first()
    if row is None:
        raise NotFound(f"no plan {plan_id}")
    check_account(conn, actor, row.borrower_id)
    return row


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < MIN_REASON:
        raise ValidationError([_issue("reason", f"say why ({MIN_REASON}+ characters)")])
    if len(text) > 2000:
        raise ValidationError([_issue("reason", "at most 2000 characters")])
    return text


def decide_plan(
    conn: Connection,
    actor: Actor,
    plan_id: int,
    approve: bool,
    reason: str | None,
    now: datetime,
    today: date,
) -> PlanStatus:
    """Approve or reject a pending plan: another person, with a reason; an approval needs the
    approver's limits to cover the plan (four eyes, ``check_approval``)."""
    limits = _require(actor, Permission.APPROVE_PLANS)
    row = plan_row(conn, actor, plan_id)
    text = _reason(reason)
    if row.status != PlanStatus.PENDING_APPROVAL.value:
        raise ValidationError([_issue("status", f"plan {plan_id} is {row.status}, not pending")])
    if limits is None:
        raise Forbidden("your role has no authority limits for repayment plans")
    terms = terms_from_data(row.terms)
    verdict = check_approval(terms, row.proposed_by, actor.name, limits)
    same = [r for r in verdict.reasons if r.code == "SAME_PERSON"]
    problems = verdict.reasons if approve else tuple(same)
    if problems:
        raise ValidationError([_issue("decision", r.text) for r in problems])
    status = PlanStatus.APPROVED if approve else PlanStatus.REJECTED
    conn.execute(
        update(pt.plans)
        .where(pt.plans.c.plan_id == plan_id)
        .values(
            status=status.value,
            decided_by=actor.name,
            decided_at=now,
            decision_reason=text,
            settled_on=None if approve else today,
        )
    )
    kind = "approved" if approve else "rejected"
    _event(conn, plan_id, kind, today, now, detail={"by": actor.name, "reason": text})
    record(
        conn,
        actor,
        "approve_plan" if approve else "reject_plan",
        "borrower",
        row.borrower_id,
        now,
        reason=text,
        detail={"plan_id": plan_id, "proposed_by": row.proposed_by, "kind": row.kind},
    )
    return status


def record_acceptance(
    conn: Connection,
    actor: Actor,
    plan_id: int,
    how: AcceptedHow | str,
    reference: str | None,
    now: datetime,
    today: date,
) -> None:
    """The borrower accepted an approved plan: it becomes active. The account's open promises
    are cancelled; a restructure sets the loan's ``restructured`` flag."""
    _require(actor, Permission.PROPOSE_PLANS)
    row = plan_row(conn, actor, plan_id)
    issues: list[Issue] = []
    try:
        method = AcceptedHow(str(how))
    except ValueError:
        issues.append(_issue("how", f"one of {', '.join(h.value for h in AcceptedHow)}"))
        method = AcceptedHow.IN_APP
    ref = (reference or "").strip()
    if not ref:
        issues.append(_issue("reference", "the reference of the acceptance is required"))
    elif len(ref) > 200:
        issues.append(_issue("reference", "at most 200 characters"))
    if row.status != PlanStatus.APPROVED.value:
        issues.append(
            _issue("status", f"only an approved plan can be accepted; plan {plan_id} is "
                   f"{row.status}")
        )  # fmt: skip
    if today > row.start_on + timedelta(days=OFFER_VALID_DAYS):
        issues.append(
            _issue(
                "start_on",
                f"the offer started on {row.start_on} and was valid for {OFFER_VALID_DAYS} "
                "days: propose the plan again",
            )
        )
    if issues:
        raise ValidationError(issues)
    terms = terms_from_data(row.terms)
    evaluation = evaluate_plan(terms, _plan_payments(conn, row.loan_id, terms.start), today)
    if evaluation.broken_on is not None and evaluation.broken_on < today:  # today: still payable
        raise ValidationError(
            [
                _issue(
                    "start_on",
                    f"an instalment of this offer was due on "
                    f"{evaluation.broken_on} and is not paid: propose the plan again",
                )
            ]
        )
    p = nt.promises.c
    cancelled = [
        int(r[0])
        for r in conn.execute(
            select(p.promise_id).where(p.borrower_id == row.borrower_id, p.status == "open")
        )
    ]
    if cancelled:
        conn.execute(
            update(nt.promises)
            .where(p.promise_id.in_(cancelled))
            .values(status="cancelled", settled_on=today)
        )
    # an older kept plan of the loan stops being monitored: this plan replaces it
    q = pt.plans.c
    conn.execute(
        update(pt.plans)
        .where(
            q.loan_id == row.loan_id,
            q.status == PlanStatus.KEPT.value,
            q.settled_on.is_(None),
            q.plan_id != plan_id,
        )
        .values(settled_on=today)
    )
    conn.execute(
        update(pt.plans)
        .where(q.plan_id == plan_id)
        .values(
            status=PlanStatus.ACTIVE.value,
            accepted_at=now,
            accepted_how=method.value,
            acceptance_reference=ref,
            accepted_recorded_by=actor.name,
            paid_minor=to_minor(evaluation.paid),
            next_due_on=_next_due(evaluation),
            last_evaluated_on=None,
        )
    )
    if terms.restructure is not None:
        conn.execute(
            update(t.loans)
            .where(t.loans.c.loan_id == row.loan_id)
            .values(restructured=True, updated_at=now)
        )
    _event(conn, plan_id, "accepted", today, now, detail={"how": method.value, "by": actor.name})
    record(
        conn,
        actor,
        "accept_plan",
        "borrower",
        row.borrower_id,
        now,
        reason=ref,
        detail={
            "plan_id": plan_id,
            "how": method.value,
            "promises_cancelled": cancelled,
            "restructured": terms.restructure is not None,
        },
    )


def cancel_plan(
    conn: Connection, actor: Actor, plan_id: int, reason: str | None, now: datetime, today: date
) -> None:
    """Withdraw a plan not yet accepted (proposers and approvers), or end an active one
    (approvers only). With a reason; audited. Nothing is reinstated by a cancellation."""
    _require(actor, Permission.PROPOSE_PLANS)
    row = plan_row(conn, actor, plan_id)
    text = _reason(reason)
    open_states = {PlanStatus.PENDING_APPROVAL.value, PlanStatus.APPROVED.value}
    if row.status == PlanStatus.ACTIVE.value:
        _require(actor, Permission.APPROVE_PLANS)
    elif row.status not in open_states:
        raise ValidationError([_issue("status", f"plan {plan_id} is {row.status}")])
    conn.execute(
        update(pt.plans)
        .where(pt.plans.c.plan_id == plan_id)
        .values(status=PlanStatus.CANCELLED.value, settled_on=today)
    )
    _event(conn, plan_id, "cancelled", today, now, detail={"by": actor.name, "reason": text})
    record(
        conn,
        actor,
        "cancel_plan",
        "borrower",
        row.borrower_id,
        now,
        reason=text,
        detail={"plan_id": plan_id, "was": row.status},
    )


# -- reading -------------------------------------------------------------------------------


def plans_of(conn: Connection, borrower_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The account's plans, newest first (the caller checked scope)."""
    return reads.dicts(conn, _plans_of_statement(), {"borrower_id": borrower_id, "limit": limit})


@cache
def _plans_of_statement() -> Select[Any]:
    """Built once (parameters borrower_id, limit): the account view reads it every time."""
    p = pt.plans.c
    return (
        select(pt.plans)
        .where(p.borrower_id == bindparam("borrower_id"))
        .order_by(p.proposed_at.desc(), p.plan_id.desc())
        .limit(bindparam("limit"))
    )


def _plan_payments(conn: Connection, loan_id: str, start: date) -> list[tuple[date, Decimal]]:
    pay = t.payments.c
    return [
        (r.paid_on, from_minor(int(r.amount_minor)))
        for r in conn.execute(
            select(pay.paid_on, pay.amount_minor)
            .where(pay.loan_id == loan_id, pay.paid_on >= start)
            .order_by(pay.paid_on)
        )
    ]


def _next_due(evaluation: PlanEvaluation) -> date | None:
    if evaluation.state is not PlanState.ACTIVE:
        return None
    return next(
        (i.due_date for i in evaluation.instalments if i.paid_on is None and i.paid < i.amount),
        None,
    )


@dataclass(frozen=True, slots=True)
class PlanView:
    row: dict[str, Any]
    terms: PlanTerms
    evaluation: PlanEvaluation | None  # None before the start day
    authority: AuthorityDecision | None  # for the proposer's role
    approvers: tuple[str, ...]
    events: list[dict[str, Any]]
    recovery: RecoveryComparison | None
    next_due: date | None
    disposable: Decimal | None = None  # from the income form it was proposed with
    affordability: tuple[Reason, ...] = ()  # why that form says it is not affordable


def plan_view(
    conn: Connection,
    actor: Actor,
    plan_id: int,
    as_of: date,
    products: Mapping[str, ProductSettings] | None = None,
) -> PlanView:
    """A plan with its terms, events and its evaluation as of ``as_of`` over the loan's
    payments since the start (for a plan not yet accepted: what it would be so far), and the
    recovery comparison against the loan at its start."""
    row = plan_row(conn, actor, plan_id)
    terms = terms_from_data(row.terms)
    snap = _snapshot(conn, row.borrower_id, row.loan_id, terms.start, products)
    evaluation = None
    if as_of >= terms.start:
        evaluation = evaluate_plan(terms, _plan_payments(conn, row.loan_id, terms.start), as_of)
    try:
        role = Role(row.proposed_role)
    except ValueError:
        role = None
    limits = limits_of(role)
    e = pt.plan_events.c
    events = [
        dict(r._mapping)
        for r in conn.execute(
            select(pt.plan_events).where(e.plan_id == plan_id).order_by(e.on, e.event_id)
        )
    ]
    return PlanView(
        row=dict(row._mapping),
        terms=terms,
        evaluation=evaluation,
        authority=check_authority(terms, limits) if limits is not None else None,
        approvers=approver_roles(terms, list(ROLE_LIMITS.values())),
        events=events,
        recovery=compare_recovery(terms, snap, RECOVERY),
        next_due=_next_due(evaluation) if evaluation is not None else None,
        **_affordability(row.income_expenditure, terms),
    )


def _affordability(data: Mapping[str, Any] | None, terms: PlanTerms) -> dict[str, Any]:
    if not data:
        return {}
    ie = IncomeExpenditure(
        monthly_income=Decimal(data["monthly_income"]),
        household_size=int(data["household_size"]),
        rent=Decimal(data["rent"]),
        other_debt_payments=Decimal(data["other_debt_payments"]),
        essential_costs=Decimal(data["essential_costs"]),
        lump_sum_available=Decimal(data["lump_sum_available"]),
    )
    disposable = disposable_income(ie, POLICY)
    reasons = affordability_reasons(terms, disposable, ie.lump_sum_available, POLICY)
    return {"disposable": disposable, "affordability": reasons}


def pending_approvals(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Plans waiting for an approver, in the accounts ``actor`` may read, oldest first; each
    says whether ``actor`` may approve it (``may_approve``, ``blocked_by``)."""
    limits = _require(actor, Permission.APPROVE_PLANS)
    p, b = pt.plans.c, t.borrowers.c
    rows = conn.execute(
        select(pt.plans)
        .join(t.borrowers, b.borrower_id == p.borrower_id)
        .where(p.status == PlanStatus.PENDING_APPROVAL.value, visible_accounts(actor))
        .order_by(p.proposed_at, p.plan_id)
    ).all()
    out = []
    for r in rows:
        item = dict(r._mapping)
        reasons: tuple[Reason, ...] = ()
        if limits is not None:
            reasons = check_approval(
                terms_from_data(r.terms), r.proposed_by, actor.name, limits
            ).reasons
        item["blocked_by"] = [x.text for x in reasons]
        item["may_approve"] = limits is not None and not reasons
        out.append(item)
    return out


# -- the daily cycle -----------------------------------------------------------------------


def settle_plans(conn: Connection, as_of: date, now: datetime) -> dict[str, int]:
    """Evaluate the active (and kept) plans as of the end of ``as_of`` (run by the daily
    cycle): store the new state, paid amount, next instalment and the monitor's events (each
    audited by the batch actor). Returns counts by new state. Idempotent for a day."""
    p = pt.plans.c
    rows = conn.execute(
        select(pt.plans).where(p.status.in_(MONITORED), p.settled_on.is_(None), p.start_on <= as_of)
    ).all()
    counts: dict[str, int] = {}
    for r in rows:
        terms = terms_from_data(r.terms)
        ev = evaluate_plan(terms, _plan_payments(conn, r.loan_id, terms.start), as_of)
        for event in ev.events:
            if _event(conn, int(r.plan_id), event.kind.value, event.on, now, event.amount):
                record(
                    conn,
                    BATCH_ACTOR,
                    event.kind.value,
                    "borrower",
                    r.borrower_id,
                    now,
                    detail={
                        "plan_id": int(r.plan_id),
                        "on": event.on.isoformat(),
                        "amount": str(event.amount),
                        "as_of": as_of.isoformat(),
                    },
                )
        values: dict[str, Any] = {
            "paid_minor": to_minor(ev.paid),
            "next_due_on": _next_due(ev),
            "last_evaluated_on": as_of,
        }
        state = ev.state.value
        if state != r.status:
            values["status"] = state
            counts[state] = counts.get(state, 0) + 1
        if ev.state is PlanState.BROKEN:
            values["settled_on"] = ev.broken_on
        elif ev.state is PlanState.COMPLETED:
            values["settled_on"] = ev.completed_on
        conn.execute(update(pt.plans).where(p.plan_id == r.plan_id).values(**values))
    return counts


# -- strategy features ---------------------------------------------------------------------


def plan_features(conn: Connection, as_of: date) -> dict[str, tuple[str, int | None, int | None]]:
    """Per borrower with an active plan or a broken one, as of ``as_of``: (``"open"``, None,
    days to the next unpaid plan instalment) or (``"broken"``, days since it broke, None).

    An active plan wins over a broken one of another loan; of several active plans, the
    nearest next instalment counts."""
    p = pt.plans.c
    rows = conn.execute(
        select(p.borrower_id, p.loan_id, p.status, p.terms, p.settled_on, p.start_on).where(
            p.start_on <= as_of,
            p.accepted_at.is_not(None),
            p.status.in_([PlanStatus.ACTIVE.value, PlanStatus.KEPT.value, PlanStatus.BROKEN.value]),
        )
    ).all()
    out: dict[str, tuple[str, int | None, int | None]] = {}
    for r in rows:
        if r.status == PlanStatus.KEPT.value:
            continue
        terms = terms_from_data(r.terms)
        ev = evaluate_plan(terms, _plan_payments(conn, r.loan_id, terms.start), as_of)
        current = out.get(r.borrower_id)
        if ev.state is PlanState.ACTIVE:
            nxt = _next_due(ev)
            days = None if nxt is None else (nxt - as_of).days
            if (
                current is None
                or current[0] != "open"
                or (days is not None and (current[2] is None or days < current[2]))
            ):
                out[r.borrower_id] = ("open", None, days)
        elif ev.state is PlanState.BROKEN and ev.broken_on is not None:
            since = (as_of - ev.broken_on).days
            if current is None or (current[0] == "broken" and (current[1] or 0) > since):
                out[r.borrower_id] = ("broken", since, None)
    return out


def merge_plan_features(
    promise_rows: list[tuple[str, str, int | None, int | None]],
    made_on: Mapping[str, date],
    plans: Mapping[str, tuple[str, int | None, int | None]],
    as_of: date,
) -> list[tuple[str, str, int | None, int | None]]:
    """Promise features with the plans': an active plan is an open arrangement (it wins); a
    broken plan counts as a broken promise unless a promise was made after it broke."""
    out = {r[0]: r for r in promise_rows}
    for borrower, (status, since, to_next) in plans.items():
        if status == "broken" and since is not None:
            made = made_on.get(borrower)
            if made is not None and made > as_of - timedelta(days=since):
                continue
        out[borrower] = (borrower, status, since, to_next)
    return [out[b] for b in sorted(out)]


# -- the agreement -------------------------------------------------------------------------

LENDER = "贷款机构"  # the Settings defaults of ``lender_name`` and ``object_how``
LENDER_CONTACT = "借款合同所列的客服热线"
AGREEMENT_STATES = frozenset(
    {PlanStatus.APPROVED, PlanStatus.ACTIVE, PlanStatus.KEPT, PlanStatus.COMPLETED}
)
_HOW_TEXT = {
    "zh_CN": {
        "signed_paper": "书面签署",
        "recorded_call": "电话录音确认",
        "sms_code": "短信验证码确认",
        "in_app": "应用内确认",
    },
    "en": {
        "signed_paper": "signed on paper",
        "recorded_call": "confirmed on a recorded call",
        "sms_code": "confirmed with an SMS code",
        "in_app": "confirmed in the app",
    },
}


def agreement_document(
    conn: Connection,
    actor: Actor,
    plan_id: int,
    locale: str,
    now: datetime,
    today: date,
    lender: str = LENDER,
    lender_contact: str = LENDER_CONTACT,
    client: str | None = None,
) -> tuple[bytes, str]:
    """The agreement PDF of an approved (or active, kept, completed) plan, and its SHA-256.

    The borrower's full name comes through ``access.fetch_borrower`` (an audited view of
    personal data, purpose ``plan_agreement``); the ID number is masked. The download is
    audited (``download_plan_agreement``) and the digest kept on the plan."""
    from arrears.domain.people import mask_id_number
    from arrears.services.access import fetch_borrower
    from arrears.services.agreements import agreement_from_terms, agreement_pdf

    _require(actor, Permission.UNMASK_PII)
    row = plan_row(conn, actor, plan_id)
    if locale not in ("zh_CN", "en"):
        raise ValidationError([_issue("locale", "zh_CN or en")])
    if row.status not in AGREEMENT_STATES:
        raise ValidationError(
            [_issue("status", f"plan {plan_id} is {row.status}: no agreement before approval")]
        )
    borrower = fetch_borrower(
        conn,
        actor,
        row.borrower_id,
        now,
        purpose="plan_agreement",
        unmask_reason=f"repayment plan agreement PLAN-{plan_id}",
        client=client,
    )
    e = pt.plan_events.c
    on = {
        r.kind: r.on
        for r in conn.execute(
            select(e.kind, e.on).where(e.plan_id == plan_id, e.kind.in_(["approved", "accepted"]))
        )
    }
    terms = terms_from_data(row.terms)
    currency = conn.execute(
        select(t.loans.c.currency).where(t.loans.c.loan_id == row.loan_id)
    ).scalar_one()
    agreement = agreement_from_terms(
        terms,
        locale=locale,
        reference=f"PLAN-{plan_id}",
        agreement_date=today,
        lender=lender,
        lender_contact=lender_contact,
        borrower_name=borrower.name or "",
        id_number_masked=mask_id_number(borrower.id_number) or "",
        currency=currency or "CNY",
        approved_by=row.decided_by,
        approved_on=on.get("approved"),
        accepted_on=on.get("accepted"),
        acceptance_note=(
            f"{_HOW_TEXT[locale].get(row.accepted_how, row.accepted_how)} "
            f"({row.acceptance_reference})"
            if row.accepted_how
            else None
        ),
    )
    pdf = agreement_pdf(agreement)
    digest = hashlib.sha256(pdf).hexdigest()
    conn.execute(
        update(pt.plans).where(pt.plans.c.plan_id == plan_id).values(agreement_sha256=digest)
    )
    record(
        conn,
        actor,
        "download_plan_agreement",
        "borrower",
        row.borrower_id,
        now,
        detail={"plan_id": plan_id, "locale": locale, "sha256": digest},
        client=client,
    )
    return pdf, digest


def next_plan_instalments(
    conn: Connection, borrower_ids: Sequence[str]
) -> dict[str, tuple[date, int]]:
    """Per borrower with an active plan: (its next unpaid instalment's date, minor units still
    to pay through it), from the last evaluation — what a reminder of the plan says."""
    p = pt.plans.c
    out: dict[str, tuple[date, int]] = {}
    for start in range(0, len(borrower_ids), 500):
        chunk = list(borrower_ids[start : start + 500])
        rows = conn.execute(
            select(p.borrower_id, p.terms, p.next_due_on, p.paid_minor).where(
                p.borrower_id.in_(chunk),
                p.status == PlanStatus.ACTIVE.value,
                p.next_due_on.is_not(None),
            )
        ).all()
        for r in rows:
            terms = terms_from_data(r.terms)
            through = sum(
                (i.amount for i in terms.instalments if i.due_date <= r.next_due_on), ZERO
            )
            left = to_minor(through) - int(r.paid_minor)
            if left > 0 and (r.borrower_id not in out or r.next_due_on < out[r.borrower_id][0]):
                out[r.borrower_id] = (r.next_due_on, left)
    return out
