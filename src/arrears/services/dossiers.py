"""The visit dossier (issue 6, "prepare"): one PDF per door visit, in zh-CN or English.

- :class:`Dossier`: everything the document says, independent of how it was gathered: the
  borrower as the access layer returned it (masked or not), the loans and their live status,
  the repayment record, the contact history and the last promises, the reason for the
  delinquency if one was recorded, the repayment-plan options per loan (or why there are
  none), the documents to bring and the conduct rules of the visit (both languages).
- :func:`gather_dossier`: a :class:`Dossier` from the store. The borrower is read through
  ``services.access.fetch_borrower`` (purpose ``visit_dossier``: scope checked, PII masked
  unless an unmask reason is given and the role may unmask, one audit row); loans, statuses,
  payments and contacts through ``services.desk``; promises through ``services.promises``;
  the plan options per loan through ``services.plans.plan_options`` (the snapshot of the loan as
  stored, and ``propose_plans`` under the app's ``POLICY`` when the borrower's income and
  expenditure is given), else the instalment plans of a few standard terms on that snapshot.
  Approval is judged against the role limits of ``services.plans``. A loan whose options
  cannot be computed says why instead.
- :func:`dossier_pdf`: the shipped template (``adapters/channels/letter_templates/
  dossier_<locale>.html``, Jinja2, autoescaped), amounts and dates formatted with Babel for the
  dossier's locale, the rendered text screened for CN-X1, then HTML → PDF with the letters'
  WeasyPrint adapter (Noto Sans CJK SC embedded).
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from sqlalchemy import Connection

from arrears.adapters.channels import letters as render
from arrears.domain.compliance import DEFAULT_LEXICON, screen_text
from arrears.domain.compliance.lexicon import X1_CATEGORIES
from arrears.domain.compliance.packs import Pack, cn_pack
from arrears.domain.errors import ArrearsError, Issue, ValidationError
from arrears.domain.money import ZERO, from_minor
from arrears.domain.negotiation.affordability import (
    AffordabilityPolicy,
    IncomeExpenditure,
)
from arrears.domain.negotiation.authority import RoleLimits, approver_roles, check_authority
from arrears.domain.negotiation.plans import PlanKind, PlanTerms, instalment_plan
from arrears.domain.negotiation.snapshot import AccountSnapshot
from arrears.domain.people import Actor
from arrears.domain.products import ProductSettings
from arrears.services import desk
from arrears.services import plans as plan_service
from arrears.services.access import fetch_borrower
from arrears.services.promises import promises_of

__all__ = [
    "DOSSIER_LOCALES",
    "DOSSIER_PURPOSE",
    "STANDARD_TERMS",
    "BorrowerBlock",
    "ContactLine",
    "Dossier",
    "LoanLine",
    "LoanPlans",
    "PaymentLine",
    "PlanOptionLine",
    "PromiseLine",
    "Reason",
    "RuleText",
    "conduct_rules",
    "documents_to_bring",
    "dossier_html",
    "dossier_pdf",
    "gather_dossier",
]

DOSSIER_LOCALES = render.LETTER_LOCALES
DOSSIER_PURPOSE = "visit_dossier"  # the purpose of the audit row of the borrower read
STANDARD_TERMS = (3, 6, 12)  # months of the plans shown when the borrower's means are unknown


# -- what the document says --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """A reason code (stable; the zh-CN template labels it) and its English text."""

    code: str
    text: str


@dataclass(frozen=True, slots=True)
class RuleText:
    """A conduct rule or a document to bring, in both languages, with the rule it serves."""

    rule: str  # CN-V1, CN-R2, … or "policy" (the lender's own)
    code: str
    en: str
    zh: str

    def text(self, locale: str) -> str:
        return self.zh if locale == "zh_CN" else self.en


@dataclass(frozen=True, slots=True)
class BorrowerBlock:
    """The borrower as the access layer returned it: masked unless ``masked`` is False."""

    borrower_id: str
    name: str | None
    id_number: str | None
    phone: str | None
    address: str | None
    city: str | None
    employer: str | None
    masked: bool


@dataclass(frozen=True, slots=True)
class LoanLine:
    loan_id: str
    product: str
    currency: str
    principal: Decimal
    dpd: int | None  # None when no status could be computed
    bucket: str | None
    classification: str | None
    total_due_now: Decimal | None
    principal_outstanding: Decimal | None
    next_due_date: date | None
    next_due_amount: Decimal | None
    paid_off: bool = False


@dataclass(frozen=True, slots=True)
class PaymentLine:
    paid_on: date
    loan_id: str
    amount: Decimal
    currency: str
    channel: str | None


@dataclass(frozen=True, slots=True)
class ContactLine:
    at: datetime  # tz-aware
    channel: str
    outcome: str
    right_party: bool
    reason: str | None  # DelinquencyReason code


@dataclass(frozen=True, slots=True)
class PromiseLine:
    made_on: date
    items: tuple[tuple[date, Decimal], ...]
    total: Decimal
    paid: Decimal
    status: str  # open | kept | partly_kept | broken | cancelled
    promised_by: str
    loan_id: str | None


@dataclass(frozen=True, slots=True)
class PlanOptionLine:
    """One plan the calculator proposes, or (``available`` False) why no plan of the kind fits."""

    kind: str  # PlanKind value
    available: bool
    months: int = 0
    first_payment: Decimal = ZERO  # due on the plan's start day (a down payment), if any
    monthly: Decimal = ZERO  # the largest monthly plan instalment after the start day
    total_payable: Decimal = ZERO  # every plan instalment
    after_plan: Decimal = ZERO  # contract installments that continue after the plan
    waived: Decimal = ZERO
    needs_approval: bool = False
    approval_reasons: tuple[Reason, ...] = ()  # the limits of the dossier's role it exceeds
    approvers: tuple[str, ...] = ()  # the roles whose limits cover it
    reasons: tuple[Reason, ...] = ()  # why none fits (when not available)


@dataclass(frozen=True, slots=True)
class LoanPlans:
    """The plan options for one loan, as of the opening of ``start``."""

    loan_id: str
    start: date
    basis: str  # "income_expenditure" (propose_plans) | "standard_terms" | "none"
    due_now: Decimal | None
    total_owed: Decimal | None
    disposable: Decimal | None  # monthly, when the borrower's income and expenditure is known
    options: tuple[PlanOptionLine, ...]
    problem: str | None = None  # why no options could be computed (English)


@dataclass(frozen=True, slots=True)
class Dossier:
    locale: str  # zh_CN | en
    reference: str
    prepared_on: date
    prepared_for: tuple[str, ...]  # the team and the agents, as printed
    as_of: date  # statuses and figures as of this business date
    timezone: str  # the lender's: times are printed in it
    currency: str
    borrower: BorrowerBlock
    loans: tuple[LoanLine, ...]
    payments: tuple[PaymentLine, ...]  # newest first
    contacts: tuple[ContactLine, ...]  # newest first
    promises: tuple[PromiseLine, ...]  # newest first
    delinquency_reason: str | None  # the latest recorded (DelinquencyReason code)
    delinquency_reason_at: datetime | None
    plans: tuple[LoanPlans, ...]
    documents: tuple[RuleText, ...]
    conduct: tuple[RuleText, ...]
    visit_hours: str  # CN-T2, e.g. "08:00–20:00"
    min_staff: int  # CN-V1

    @property
    def total_due_now(self) -> Decimal:
        return sum((lo.total_due_now or ZERO for lo in self.loans), ZERO)


# -- the rules of the visit --------------------------------------------------------------------


def documents_to_bring(pack: Pack | None = None) -> tuple[RuleText, ...]:
    """What the visiting staff take with them (both languages)."""
    pack = pack or cn_pack()
    staff = pack.int_("CN-V1", "min_staff")
    return (
        RuleText(
            "CN-R2",
            "collection_notice",
            "The collection notice (CN-R2), sealed: name, amount owed, reason and legal basis, "
            "rights and duties, how to check the account and to object, the lender's contact; "
            "one copy to hand over.",
            "催收通知函（CN-R2），加盖公章：载明姓名、欠款金额、事由及法律依据、权利义务、"
            "账户查询及异议方式、机构联系方式；备一份交借款人。",
        ),
        RuleText(
            "CN-V1",
            "staff_id",
            f"The staff ID card of each of the {staff} visiting staff.",
            f"{staff} 名上门人员各自的工作证。",
        ),
        RuleText(
            "CN-R1",
            "recorder",
            "The recording device (audio and video), charged, with free storage.",
            "录音录像设备（电量充足、存储空间充足）。",
        ),
        RuleText(
            "policy",
            "statement",
            "A statement of the loans (schedule and repayment record) the borrower may check.",
            "借款对账单（还款计划及还款记录），供借款人核对。",
        ),
        RuleText(
            "policy",
            "forms",
            "Blank income and expenditure forms and repayment-plan application forms.",
            "空白收支情况表及还款计划申请表。",
        ),
        RuleText(
            "CN-D1",
            "dossier",
            "This dossier: for the visiting staff only, never handed over or shown to others.",
            "本资料：仅供上门人员使用，不得交给或出示给他人。",
        ),
    )


def conduct_rules(pack: Pack | None = None) -> tuple[RuleText, ...]:
    """The rules of conduct of a door visit (CN-V1 and the others that apply), both languages."""
    pack = pack or cn_pack()
    staff = pack.int_("CN-V1", "min_staff")
    hours = str(pack.window("CN-T2", "visit_hours"))
    years = pack.int_("CN-R1", "retention_years")
    rules = [
        RuleText(
            "CN-V1",
            "identify",
            "Identify yourselves and show your staff ID cards before anything else.",
            "到达后首先表明身份，出示证件（工作证）。",
        ),
        RuleText(
            "CN-V1",
            "two_staff",
            f"At least {staff} staff make the visit together; nobody visits alone.",
            f"至少 {staff} 名工作人员共同上门，不得单人上门。",
        ),
    ]
    if pack.value("CN-V1", "recording"):
        rules.append(
            RuleText(
                "CN-V1",
                "record",
                "Record the whole visit (audio and video), from arrival to departure; the "
                f"recording is kept at least {years} years.",
                f"全程录音录像，从到达至离开不得中断；录音录像至少保存 {years} 年。",
            )
        )
    rules += [
        RuleText(
            "CN-T2",
            "hours",
            f"Visit only between {hours}, local time.",
            f"仅在当地时间 {hours} 之间上门。",
        ),
        RuleText(
            "CN-X1",
            "respect",
            "Be polite and calm: no threatening, insulting or abusive words, no violence or "
            "intimidation; never claim to act for a court, public security or a law firm.",
            "文明礼貌、态度平和：不得使用威胁、侮辱或谩骂性语言，不得使用暴力或恐吓手段；"
            "不得自称法院、公安或律师事务所人员。",
        ),
        RuleText(
            "CN-P1",
            "third_parties",
            "Speak about the debt only with the borrower (or a guarantor): never with family, "
            "neighbours, colleagues or anyone else, and never ask them to pay.",
            "仅与借款人（或担保人）谈及债务：不得向家属、邻居、同事或其他任何人透露，"
            "也不得要求其代为还款。",
        ),
        RuleText(
            "policy",
            "leave",
            "Leave at once when the borrower asks you to leave; record it in the visit report.",
            "借款人要求离开时，立即离开，并在走访记录中如实记录。",
        ),
        RuleText(
            "CN-H1",
            "dispute",
            "If the borrower disputes the debt, stop collecting, record the dispute and explain "
            "how to object.",
            "借款人对债务提出异议时，停止催收，记录异议并告知异议方式。",
        ),
        RuleText(
            "policy",
            "no_cash",
            "Take no cash: payments go only to the lender's official accounts and channels.",
            "不得收取现金：还款只能进入本机构的官方账户或渠道。",
        ),
        RuleText(
            "CN-D1",
            "personal_data",
            "Protect personal data: keep this dossier on you, show it to nobody else, hand it "
            "back or shred it after the visit.",
            "保护个人信息：随身保管本资料，不得向他人出示，走访结束后交回或销毁。",
        ),
    ]
    return tuple(rules)


# -- gathering ---------------------------------------------------------------------------------


def _issue(column: str, reason: str) -> Issue:
    return Issue("dossier", None, column, reason)


def _money(minor: Any) -> Decimal | None:
    return None if minor is None else from_minor(int(minor))


def _loan_lines(
    loans: Sequence[Mapping[str, Any]], status: Mapping[str, Mapping[str, Any]]
) -> tuple[LoanLine, ...]:
    out = []
    for lo in loans:
        st = status.get(lo["loan_id"], {})
        out.append(
            LoanLine(
                loan_id=lo["loan_id"],
                product=lo["product"] or "default",
                currency=lo["currency"],
                principal=from_minor(int(lo["principal_minor"])),
                dpd=None if st.get("dpd") is None else int(st["dpd"]),
                bucket=st.get("bucket"),
                classification=st.get("classification"),
                total_due_now=_money(st.get("total_due_now_minor")),
                principal_outstanding=_money(st.get("principal_outstanding_minor")),
                next_due_date=st.get("next_due_date"),
                next_due_amount=_money(st.get("next_due_amount_minor")),
                paid_off=bool(st.get("paid_off", False)),
            )
        )
    return tuple(out)


def _reasons(items: Sequence[Any]) -> tuple[Reason, ...]:
    return tuple(Reason(r.code, r.text) for r in items)


def _option(kind: str, terms: PlanTerms, limits: RoleLimits) -> PlanOptionLine:
    first = sum((i.amount for i in terms.instalments if i.due_date == terms.start), ZERO)
    later = [i.amount for i in terms.instalments if i.due_date != terms.start]
    authority = check_authority(terms, limits)
    return PlanOptionLine(
        kind=kind,
        available=True,
        months=terms.months,
        first_payment=first,
        monthly=max(later, default=ZERO),
        total_payable=terms.payable,
        after_plan=terms.after_plan_total,
        waived=terms.waiver.total,
        needs_approval=authority.needs_approval,
        approval_reasons=_reasons(authority.reasons),
        approvers=approver_roles(terms, list(plan_service.ROLE_LIMITS.values())),
    )


def _standard_terms(
    snap: AccountSnapshot, policy: AffordabilityPolicy, limits: RoleLimits
) -> tuple[PlanOptionLine, ...]:
    """The borrower's means unknown: the instalment plans over ``STANDARD_TERMS`` months."""
    kind = PlanKind.INSTALMENT.value
    if snap.total_due_now <= 0:
        return (
            PlanOptionLine(kind, False, reasons=(Reason("NOTHING_DUE", "nothing is due now"),)),
        )
    out: list[PlanOptionLine] = []
    for n in (m for m in STANDARD_TERMS if m <= policy.max_term_months):
        try:
            terms = instalment_plan(snap, n, grace_days=policy.grace_days)
        except ValidationError as exc:
            text = "; ".join(i.reason for i in exc.issues)
            out.append(PlanOptionLine(kind, False, months=n, reasons=(Reason("INVALID", text),)))
            continue
        out.append(_option(kind, terms, limits))
    return tuple(out)


def _loan_plans(
    conn: Connection,
    actor: Actor,
    borrower_id: str,
    loans: Sequence[LoanLine],
    start: date,
    products: Mapping[str, ProductSettings],
    ie: IncomeExpenditure | None,
    policy: AffordabilityPolicy,
    limits: RoleLimits,
) -> tuple[LoanPlans, ...]:
    """Per loan not paid off: the calculator's options (``services.plans.plan_options``), or
    why there are none. A loan the calculator cannot handle is explained, never raised."""
    out: list[LoanPlans] = []
    for lo in (lo for lo in loans if not lo.paid_off):
        try:
            found = plan_service.plan_options(
                conn, actor, borrower_id, lo.loan_id, start, products, ie, policy
            )
            snap = found.snapshot
            if found.proposal is None:
                basis, disposable = "standard_terms", None
                options = _standard_terms(snap, policy, limits)
            else:
                basis, disposable = "income_expenditure", found.proposal.disposable
                options = tuple(
                    PlanOptionLine(o.kind.value, False, reasons=_reasons(o.reasons))
                    if o.terms is None
                    else _option(o.kind.value, o.terms, limits)
                    for o in found.proposal.options
                )
        except ValidationError as exc:
            problem = "; ".join(i.reason for i in exc.issues)
            out.append(LoanPlans(lo.loan_id, start, "none", None, None, None, (), problem))
            continue
        except (ArrearsError, ArithmeticError, ValueError) as exc:
            out.append(LoanPlans(lo.loan_id, start, "none", None, None, None, (), str(exc)))
            continue
        out.append(
            LoanPlans(
                lo.loan_id,
                start,
                basis,
                snap.total_due_now,
                snap.total_owed,
                disposable,
                options,
            )
        )
    return tuple(out)


def gather_dossier(
    conn: Connection,
    actor: Actor,
    borrower_id: str,
    *,
    locale: str,
    reference: str,
    prepared_on: date,
    today: date,
    now: datetime,
    products: Mapping[str, ProductSettings],
    prepared_for: str | Sequence[str],
    unmask_reason: str | None = None,
    income_expenditure: IncomeExpenditure | None = None,
    policy: AffordabilityPolicy | None = None,
    role_limits: RoleLimits | None = None,
    plan_start: date | None = None,
    pack: Pack | None = None,
    lender_timezone: str = "Asia/Shanghai",
    payments_limit: int = 10,
    contacts_limit: int = 10,
    promises_limit: int = 3,
    client: str | None = None,
) -> Dossier:
    """Everything the visit dossier of ``borrower_id`` says, read for ``actor``.

    The borrower is read through ``services.access.fetch_borrower`` (purpose
    ``visit_dossier``): NotFound outside the actor's scope; masked unless ``unmask_reason`` is
    given, Forbidden when the role may not unmask; one audit row either way. Statuses are live
    as of ``today``; plan figures are as of the opening of ``plan_start`` (default ``today``).
    With ``income_expenditure`` the options are the calculator's (``services.plans.
    plan_options``: one per kind, or why none fits, under ``policy``, default
    ``services.plans.POLICY``); without, the instalment plans over ``STANDARD_TERMS`` months
    (those within ``policy.max_term_months``). Approval is judged against ``role_limits``
    (default: ``services.plans.ROLE_LIMITS`` of the actor's role; a role without limits needs
    an approver for every plan).
    """
    if locale not in DOSSIER_LOCALES:
        raise ValidationError([_issue("locale", f"no dossier template for {locale!r}")])
    if not reference.strip():
        raise ValidationError([_issue("reference", "give the dossier a reference")])
    if now.tzinfo is None:
        raise ValidationError([_issue("now", "give a time-zone offset")])
    ZoneInfo(lender_timezone)  # an unknown zone fails here, not when printing
    view = fetch_borrower(
        conn, actor, borrower_id, now, DOSSIER_PURPOSE, unmask_reason=unmask_reason, client=client
    )
    pack = pack or cn_pack()
    policy = policy or plan_service.POLICY
    limits = (
        role_limits
        or plan_service.limits_of(actor.role)
        # a role without plan authority: every plan needs an approver
        or RoleLimits(actor.role.value if actor.role else actor.name, max_term_months=0)
    )

    loans = desk.loans_of(conn, borrower_id)
    ids = [lo["loan_id"] for lo in loans]
    loan_lines = _loan_lines(loans, desk.live_status(conn, ids, today, products))
    currency = {lo["loan_id"]: lo["currency"] for lo in loans}
    payments = tuple(
        PaymentLine(
            p["paid_on"],
            p["loan_id"],
            from_minor(int(p["amount_minor"])),
            currency[p["loan_id"]],
            p.get("channel"),
        )
        for p in (desk.payments_of(conn, ids, limit=payments_limit) if ids else [])
    )
    contact_rows = desk.recent_contacts(conn, borrower_id, limit=max(contacts_limit, 200))
    contacts = tuple(
        ContactLine(
            c["at"], c["channel"], c["outcome"], bool(c["right_party"]), c["delinquency_reason"]
        )
        for c in contact_rows[:contacts_limit]
    )
    with_reason = next((c for c in contact_rows if c["delinquency_reason"]), None)
    promises = tuple(
        PromiseLine(
            made_on=p["made_on"],
            items=tuple((day, from_minor(minor)) for day, minor in p["items"]),
            total=from_minor(int(p["total_minor"])),
            paid=from_minor(int(p["paid_minor"] or 0)),
            status=p["status"],
            promised_by=p["promised_by"],
            loan_id=p["loan_id"],
        )
        for p in promises_of(conn, borrower_id, limit=promises_limit)
    )
    plans = _loan_plans(
        conn,
        actor,
        borrower_id,
        loan_lines,
        plan_start or today,
        products,
        income_expenditure,
        policy,
        limits,
    )
    team = (prepared_for,) if isinstance(prepared_for, str) else tuple(prepared_for)
    return Dossier(
        locale=locale,
        reference=reference.strip(),
        prepared_on=prepared_on,
        prepared_for=team,
        as_of=today,
        timezone=lender_timezone,
        currency=loans[0]["currency"] if loans else "CNY",
        borrower=BorrowerBlock(
            view.borrower_id,
            view.name,
            view.id_number,
            view.phone,
            view.address,
            view.city,
            view.employer,
            view.masked,
        ),
        loans=loan_lines,
        payments=payments,
        contacts=contacts,
        promises=promises,
        delinquency_reason=with_reason["delinquency_reason"] if with_reason else None,
        delinquency_reason_at=with_reason["at"] if with_reason else None,
        plans=plans,
        documents=documents_to_bring(pack),
        conduct=conduct_rules(pack),
        visit_hours=str(pack.window("CN-T2", "visit_hours")),
        min_staff=pack.int_("CN-V1", "min_staff"),
    )


# -- rendering ---------------------------------------------------------------------------------


class _Fmt:
    def __init__(self, dossier: Dossier) -> None:
        self.locale = dossier.locale
        self.tz = ZoneInfo(dossier.timezone)

    def money(self, value: Decimal | None, currency: str) -> str:
        return "" if value is None else format_currency(value, currency, locale=self.locale)

    def day(self, value: date | None) -> str:
        return "" if value is None else format_date(value, "medium", locale=self.locale)

    def moment(self, value: datetime | None) -> str:
        if value is None:
            return ""
        if value.tzinfo is None:  # stored UTC (SQLite hands back naive values)
            value = value.replace(tzinfo=ZoneInfo("UTC"))
        return format_datetime(value, "short", tzinfo=self.tz, locale=self.locale)


def _values(d: Dossier) -> dict[str, Any]:
    f = _Fmt(d)
    cur = d.currency
    loan_cur = {lo.loan_id: lo.currency for lo in d.loans}
    return {
        "reference": d.reference,
        "prepared_on": f.day(d.prepared_on),
        "as_of": f.day(d.as_of),
        "prepared_for": list(d.prepared_for),
        "b": d.borrower,
        "loans": [
            {
                "loan_id": lo.loan_id,
                "product": lo.product,
                "principal": f.money(lo.principal, lo.currency),
                "dpd": "" if lo.dpd is None else str(lo.dpd),
                "bucket": lo.bucket or "",
                "classification": lo.classification or "",
                "due_now": f.money(lo.total_due_now, lo.currency),
                "outstanding": f.money(lo.principal_outstanding, lo.currency),
                "next_due": f.day(lo.next_due_date),
                "next_due_amount": f.money(lo.next_due_amount, lo.currency)
                if lo.next_due_date
                else "",
                "paid_off": lo.paid_off,
            }
            for lo in d.loans
        ],
        "total_due_now": f.money(d.total_due_now, cur),
        "payments": [
            {
                "date": f.day(p.paid_on),
                "loan_id": p.loan_id,
                "amount": f.money(p.amount, p.currency),
                "channel": p.channel or "",
            }
            for p in d.payments
        ],
        "contacts": [
            {
                "at": f.moment(c.at),
                "channel": c.channel,
                "outcome": c.outcome,
                "right_party": c.right_party,
                "reason": c.reason or "",
            }
            for c in d.contacts
        ],
        "promises": [
            {
                "made_on": f.day(p.made_on),
                "parts": [(f.day(day), f.money(amount, cur)) for day, amount in p.items],
                "total": f.money(p.total, cur),
                "paid": f.money(p.paid, cur),
                "status": p.status,
                "promised_by": p.promised_by,
                "loan_id": p.loan_id or "",
            }
            for p in d.promises
        ],
        "reason": d.delinquency_reason or "",
        "reason_at": f.moment(d.delinquency_reason_at),
        "plans": [
            {
                "loan_id": pl.loan_id,
                "start": f.day(pl.start),
                "basis": pl.basis,
                "due_now": f.money(pl.due_now, loan_cur.get(pl.loan_id, cur)),
                "owed": f.money(pl.total_owed, loan_cur.get(pl.loan_id, cur)),
                "disposable": f.money(pl.disposable, loan_cur.get(pl.loan_id, cur)),
                "problem": pl.problem or "",
                "options": [
                    {
                        "kind": o.kind,
                        "available": o.available,
                        "months": o.months,
                        "first": f.money(o.first_payment, loan_cur.get(pl.loan_id, cur))
                        if o.first_payment
                        else "",
                        "monthly": f.money(o.monthly, loan_cur.get(pl.loan_id, cur)),
                        "total": f.money(o.total_payable, loan_cur.get(pl.loan_id, cur)),
                        "after_plan": f.money(o.after_plan, loan_cur.get(pl.loan_id, cur))
                        if o.after_plan
                        else "",
                        "waived": f.money(o.waived, loan_cur.get(pl.loan_id, cur)),
                        "needs_approval": o.needs_approval,
                        "approval": list(o.approval_reasons),
                        "approvers": list(o.approvers),
                        "reasons": list(o.reasons),
                    }
                    for o in pl.options
                ],
            }
            for pl in d.plans
        ],
        "documents": [r.text(d.locale) for r in d.documents],
        "document_rules": [r.rule for r in d.documents],
        "conduct": [(r.rule, r.text(d.locale)) for r in d.conduct],
        "visit_hours": d.visit_hours,
        "min_staff": d.min_staff,
    }


def _visible_text(html: str) -> str:
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", body))


def dossier_html(dossier: Dossier) -> str:
    """The dossier as HTML; ValidationError if the rendered text has CN-X1 prohibited language
    (nothing is rendered then)."""
    if dossier.locale not in DOSSIER_LOCALES:
        raise ValidationError([_issue("locale", f"no dossier template for {dossier.locale!r}")])
    html = render.render_dossier_html(dossier.locale, _values(dossier))
    hits = [
        h for h in screen_text(_visible_text(html), DEFAULT_LEXICON) if h.category in X1_CATEGORIES
    ]
    if hits:
        raise ValidationError(
            [_issue("text", f"CN-X1: prohibited language ({h.category}: {h.term!r})") for h in hits]
        )
    return html


def dossier_pdf(dossier: Dossier) -> bytes:
    """The dossier as a PDF (WeasyPrint, Noto Sans CJK SC embedded)."""
    return render.render_pdf(dossier_html(dossier))
