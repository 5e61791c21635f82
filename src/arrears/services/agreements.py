"""Repayment-plan agreements (issue 5): the document the borrower accepts before a plan is
active, in zh-CN or English, as a PDF.

- :class:`Agreement`: everything the document says, independent of storage (parties, what
  is owed by component, the waiver and its condition, the schedule, the contract installments
  that continue after the plan, a restructure's new contract, approval and acceptance).
- :func:`agreement_from_terms`: an :class:`Agreement` from the domain's ``PlanTerms``.
- :func:`check_agreement`: what is wrong with an agreement (empty: it may be rendered):
  missing parties or contact, an ID number that is not masked, CN-X1 prohibited language in
  any text the caller gives.
- :func:`agreement_html` / :func:`agreement_pdf`: the agreement rendered from the shipped
  template (``adapters/channels/letter_templates/agreement_<locale>.html``, Jinja2,
  autoescaped), the whole rendered text screened for CN-X1 again, then HTML → PDF with the
  letters' WeasyPrint adapter. Any problem raises ``ValidationError`` (nothing is rendered).

Amounts stay ``Decimal``; they are printed with Babel for the agreement's locale.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_percent

from arrears.adapters.channels import letters as render
from arrears.domain.compliance import DEFAULT_LEXICON, screen_text
from arrears.domain.compliance.lexicon import X1_CATEGORIES
from arrears.domain.errors import Issue, ValidationError
from arrears.domain.money import ZERO
from arrears.domain.negotiation.plans import PlanInstalment, PlanKind, PlanTerms, ReinstateRule
from arrears.domain.negotiation.snapshot import Components
from arrears.domain.products import Classification, RepaymentMethod

__all__ = [
    "AGREEMENT_LOCALES",
    "Agreement",
    "AgreementRestructure",
    "agreement_from_terms",
    "agreement_html",
    "agreement_pdf",
    "check_agreement",
]

AGREEMENT_LOCALES = render.LETTER_LOCALES


@dataclass(frozen=True, slots=True)
class AgreementRestructure:
    """A restructure's new contract as the agreement states it."""

    principal: Decimal
    annual_rate: Decimal
    term_months: int
    method: RepaymentMethod
    observation_end: date  # last day of the observation period
    classification_before: Classification
    classification_floor: Classification  # the best class allowed during observation


@dataclass(frozen=True, slots=True)
class Agreement:
    """A repayment-plan agreement, everything the document needs.

    ``owed`` is what is owed at the opening of ``start`` under the agreement's contract; the
    document's figures reconcile to it: ``total_payable + after_plan_total + total_waived ==
    owed.total``. ``owed_before`` is the same under the loan's current contract (different
    only for a restructure, whose interest is that of the new contract).
    """

    locale: str  # zh_CN | en
    reference: str  # e.g. "PLAN-12"
    agreement_date: date
    lender: str
    lender_contact: str  # how to object and complain
    borrower_name: str  # in full: the document goes to the borrower
    id_number_masked: str  # as masked by the caller
    loan_id: str
    kind: PlanKind
    start: date
    owed: Components
    owed_before: Components
    waiver: Components
    waiver_conditional: bool
    reinstate: ReinstateRule
    instalments: tuple[PlanInstalment, ...]
    after_plan: tuple[
        PlanInstalment, ...
    ]  # contract installments after the plan (seq, due, amount)
    grace_days: int
    deferral_months: int = 0
    restructure: AgreementRestructure | None = None
    currency: str = "CNY"
    approved_by: str | None = None
    approved_on: date | None = None
    accepted_on: date | None = None  # the borrower's recorded acceptance; blank line if None
    acceptance_note: str | None = None  # e.g. how it was accepted ("electronic signature, ...")

    @property
    def total_payable(self) -> Decimal:
        """What the plan's instalments ask for."""
        return sum((i.amount for i in self.instalments), ZERO)

    @property
    def after_plan_total(self) -> Decimal:
        return sum((i.amount for i in self.after_plan), ZERO)

    @property
    def total_waived(self) -> Decimal:
        return self.waiver.total

    @property
    def total_if_kept(self) -> Decimal:
        """The plan's instalments and the contract installments after it."""
        return self.total_payable + self.after_plan_total

    @property
    def end_date(self) -> date:
        """Due date of the last plan instalment."""
        return self.instalments[-1].due_date


def agreement_from_terms(
    terms: PlanTerms,
    *,
    locale: str,
    reference: str,
    agreement_date: date,
    lender: str,
    lender_contact: str,
    borrower_name: str,
    id_number_masked: str,
    currency: str = "CNY",
    approved_by: str | None = None,
    approved_on: date | None = None,
    accepted_on: date | None = None,
    acceptance_note: str | None = None,
) -> Agreement:
    """The agreement for ``terms`` (nothing is checked here; see :func:`check_agreement`)."""
    r = terms.restructure
    return Agreement(
        locale=locale,
        reference=reference,
        agreement_date=agreement_date,
        lender=lender,
        lender_contact=lender_contact,
        borrower_name=borrower_name,
        id_number_masked=id_number_masked,
        loan_id=terms.loan_id,
        kind=terms.kind,
        start=terms.start,
        owed=terms.opening,
        owed_before=terms.ledger_owed,
        waiver=terms.waiver,
        waiver_conditional=terms.waiver_conditional,
        reinstate=terms.reinstate,
        instalments=terms.instalments,
        after_plan=tuple(PlanInstalment(i.seq, i.due_date, i.amount) for i in terms.after_plan),
        grace_days=terms.grace_days,
        deferral_months=terms.deferral_months,
        restructure=None
        if r is None
        else AgreementRestructure(
            principal=r.principal,
            annual_rate=r.annual_rate,
            term_months=r.term_months,
            method=r.method,
            observation_end=r.observation_end,
            classification_before=r.classification_before,
            classification_floor=r.classification_floor,
        ),
        currency=currency,
        approved_by=approved_by,
        approved_on=approved_on,
        accepted_on=accepted_on,
        acceptance_note=acceptance_note,
    )


# -- checks ------------------------------------------------------------------------------------

_UNMASKED_ID = re.compile(r"\d{8,}")  # eight or more digits in a row: not masked
_MASK_HINT = "the ID number must be masked (e.g. 110101********1234)"


def _issue(column: str, reason: str) -> Issue:
    return Issue("agreement", None, column, reason)


def _screen(text: str, where: str) -> list[Issue]:
    return [
        _issue(where, f"CN-X1: prohibited language ({h.category}: {h.term!r})")
        for h in screen_text(text, DEFAULT_LEXICON)
        if h.category in X1_CATEGORIES
    ]


def check_agreement(agreement: Agreement) -> list[Issue]:
    """What is wrong with ``agreement`` (empty: it may be rendered)."""
    a = agreement
    issues: list[Issue] = []
    if a.locale not in AGREEMENT_LOCALES:
        issues.append(_issue("locale", f"no agreement template for {a.locale!r}"))
    required = {
        "reference": a.reference,
        "lender": a.lender,
        "lender_contact": a.lender_contact,
        "borrower_name": a.borrower_name,
        "id_number_masked": a.id_number_masked,
        "loan_id": a.loan_id,
    }
    issues += [
        _issue(field, "must not be empty") for field, value in required.items() if not value.strip()
    ]
    if _UNMASKED_ID.search(a.id_number_masked):
        issues.append(_issue("id_number_masked", _MASK_HINT))
    if not re.fullmatch(r"[A-Z]{3}", a.currency):
        issues.append(_issue("currency", f"not an ISO 4217 code: {a.currency!r}"))
    if not a.instalments:
        issues.append(_issue("instalments", "the plan has no instalments"))
    if not a.waiver.fits_within(a.owed):
        issues.append(_issue("waiver", "the waiver exceeds what is owed"))
    if a.total_payable + a.after_plan_total + a.total_waived != a.owed.total:
        issues.append(
            _issue(
                "instalments",
                f"instalments {a.total_payable} + after plan {a.after_plan_total} + waiver "
                f"{a.total_waived} != owed {a.owed.total}",
            )
        )
    if (a.kind is PlanKind.RESTRUCTURE) != (a.restructure is not None):
        issues.append(_issue("restructure", "the new contract is given for a restructure only"))
    if (a.approved_by is None) != (a.approved_on is None):
        issues.append(_issue("approved_on", "approved_by and approved_on go together"))
    texts = {
        **required,
        "approved_by": a.approved_by or "",
        "acceptance_note": a.acceptance_note or "",
    }
    for field, text in texts.items():
        issues += _screen(text, field)
    return issues


# -- rendering ---------------------------------------------------------------------------------

_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "zh_CN": {
        "kind": {
            "instalment": "分期还款计划",
            "deferral": "延期还款计划",
            "settlement": "减免结清计划",
            "restructure": "贷款重组计划",
        },
        "component": {
            "principal": "本金",
            "interest": "利息",
            "penalty": "罚息",
            "compound": "复利",
        },
        "method": {
            "annuity": "等额本息",
            "equal_principal": "等额本金",
            "interest_only": "按月付息、到期还本",
            "bullet": "到期一次性还本付息",
        },
        "class": {
            "normal": "正常",
            "special_mention": "关注",
            "substandard": "次级",
            "doubtful": "可疑",
            "loss": "损失",
        },
    },
    "en": {
        "kind": {
            "instalment": "Instalment plan",
            "deferral": "Payment deferral",
            "settlement": "Settlement",
            "restructure": "Loan restructure",
        },
        "component": {
            "principal": "Principal",
            "interest": "Interest",
            "penalty": "Penalty interest",
            "compound": "Compound interest",
        },
        "method": {
            "annuity": "equal monthly instalments (annuity)",
            "equal_principal": "equal principal",
            "interest_only": "monthly interest, principal at maturity",
            "bullet": "principal and interest at maturity",
        },
        "class": {
            "normal": "Normal",
            "special_mention": "Special mention",
            "substandard": "Substandard",
            "doubtful": "Doubtful",
            "loss": "Loss",
        },
    },
}

_COMPONENTS = ("principal", "interest", "penalty", "compound")


def _values(a: Agreement) -> dict[str, object]:
    loc = a.locale
    labels = _LABELS[loc]

    def money(x: Decimal) -> str:
        return str(format_currency(x, a.currency, locale=loc))

    def day(d: date | None) -> str:
        return "" if d is None else str(format_date(d, "long", locale=loc))

    def rows(items: tuple[PlanInstalment, ...]) -> list[dict[str, object]]:
        return [{"seq": i.seq, "due": day(i.due_date), "amount": money(i.amount)} for i in items]

    owed_rows = [
        {
            "label": labels["component"][c],
            "owed": money(getattr(a.owed, c)),
            "waived": money(getattr(a.waiver, c)),
            "payable": money(getattr(a.owed, c) - getattr(a.waiver, c)),
        }
        for c in _COMPONENTS
    ]
    r = a.restructure
    restructure = (
        None
        if r is None
        else {
            "principal": money(r.principal),
            "rate": str(format_percent(r.annual_rate, "0.00##%", locale=loc)),
            "term_months": r.term_months,
            "method": labels["method"][r.method.value],
            "observation_end": day(r.observation_end),
            "class_before": labels["class"][r.classification_before.value],
            "class_floor": labels["class"][r.classification_floor.value],
        }
    )
    return {
        "reference": a.reference,
        "agreement_date": day(a.agreement_date),
        "start": day(a.start),
        "end_date": day(a.end_date),
        "lender": a.lender,
        "lender_contact": a.lender_contact,
        "borrower_name": a.borrower_name,
        "id_number_masked": a.id_number_masked,
        "loan_id": a.loan_id,
        "kind": a.kind.value,
        "kind_title": labels["kind"][a.kind.value],
        "owed_rows": owed_rows,
        "owed_total": money(a.owed.total),
        "waived_total": money(a.total_waived),
        "owed_after_waiver": money(a.owed.total - a.total_waived),
        "contract_changed": a.owed != a.owed_before,
        "owed_before_total": money(a.owed_before.total),
        "instalments": rows(a.instalments),
        "instalment_count": len(a.instalments),
        "first_due": day(a.instalments[0].due_date),
        "total_payable": money(a.total_payable),
        "after_plan": rows(a.after_plan),
        "after_plan_total": money(a.after_plan_total),
        "total_if_kept": money(a.total_if_kept),
        "has_waiver": a.total_waived > 0,
        "waiver_conditional": a.waiver_conditional,
        "reinstate": a.reinstate.value,
        "grace_days": a.grace_days,
        "deferral_months": a.deferral_months,
        "restructure": restructure,
        "approved_by": a.approved_by or "",
        "approved_on": day(a.approved_on),
        "accepted_on": day(a.accepted_on),
        "acceptance_note": a.acceptance_note or "",
        "seal": "（盖章处）" if loc == "zh_CN" else "(seal)",
    }


def _text_of(html: str) -> str:
    """The visible text of the rendered HTML (what the PDF shows)."""
    body = re.sub(r"<style\b.*?</style>", " ", html, flags=re.S | re.I)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", body))


def agreement_html(agreement: Agreement) -> str:
    """The agreement as HTML; ``ValidationError`` naming every problem (nothing rendered)."""
    issues = check_agreement(agreement)
    if issues:
        raise ValidationError(issues)
    html = render.render_agreement_html(agreement.locale, _values(agreement))
    issues = _screen(_text_of(html), "text")
    if issues:
        raise ValidationError(issues)
    return html


def agreement_pdf(agreement: Agreement) -> bytes:
    """The agreement as a PDF (WeasyPrint, Noto Sans CJK SC embedded)."""
    return render.render_pdf(agreement_html(agreement))
