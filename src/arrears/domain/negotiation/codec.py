"""Plain data for plan terms: what the app stores (JSON-ready) and reads back.

:func:`terms_to_data` turns :class:`PlanTerms` into nested dicts and lists of strings, ints
and bools (money as decimal strings, dates ISO); :func:`terms_from_data` is its inverse and
re-checks the reconciliation (``PlanTerms.__post_init__``), raising ``ValidationError`` on
malformed data. ``terms_from_data(terms_to_data(t)) == t`` for every plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from arrears.domain.errors import Issue, LedgerError, ValidationError
from arrears.domain.loans import Installment
from arrears.domain.negotiation.plans import (
    PlanInstalment,
    PlanKind,
    PlanTerms,
    ReinstateRule,
    RestructureTerms,
)
from arrears.domain.negotiation.snapshot import AccrualRules, Components
from arrears.domain.products import Classification, RepaymentMethod

__all__ = ["FORMAT_VERSION", "terms_from_data", "terms_to_data"]

FORMAT_VERSION = 1


def _components(c: Components) -> dict[str, str]:
    return {
        "penalty": str(c.penalty),
        "compound": str(c.compound),
        "interest": str(c.interest),
        "principal": str(c.principal),
    }


def _items(items: tuple[Installment, ...]) -> list[dict[str, Any]]:
    return [
        {
            "seq": i.seq,
            "due_date": i.due_date.isoformat(),
            "principal": str(i.principal),
            "interest": str(i.interest),
        }
        for i in items
    ]


def terms_to_data(terms: PlanTerms) -> dict[str, Any]:
    r = terms.restructure
    rules = terms.rules
    return {
        "format": FORMAT_VERSION,
        "kind": terms.kind.value,
        "loan_id": terms.loan_id,
        "start": terms.start.isoformat(),
        "grace_days": terms.grace_days,
        "months": terms.months,
        "deferral_months": terms.deferral_months,
        "instalments": [
            {"seq": i.seq, "due_date": i.due_date.isoformat(), "amount": str(i.amount)}
            for i in terms.instalments
        ],
        "after_plan": _items(terms.after_plan),
        "opening": _components(terms.opening),
        "ledger_owed": _components(terms.ledger_owed),
        "waiver": _components(terms.waiver),
        "waiver_conditional": terms.waiver_conditional,
        "reinstate": terms.reinstate.value,
        "fallback_items": _items(terms.fallback_items),
        "rules": {
            "annual_rate": str(rules.annual_rate),
            "penalty_markup": str(rules.penalty_markup),
            "grace_days": rules.grace_days,
            "day_count_basis": rules.day_count_basis,
            "compound_on_overdue_interest": rules.compound_on_overdue_interest,
            "penalty_first": rules.penalty_first,
        },
        "restructure": None
        if r is None
        else {
            "principal": str(r.principal),
            "annual_rate": str(r.annual_rate),
            "term_months": r.term_months,
            "method": r.method.value,
            "schedule": _items(r.schedule),
            "classification_before": r.classification_before.value,
            "classification_floor": r.classification_floor.value,
            "observation_end": r.observation_end.isoformat(),
        },
    }


class _Reader:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def fail(self, where: str, reason: str) -> None:
        self.issues.append(Issue("plan_terms", None, where, reason))

    def money(self, data: Mapping[str, Any], key: str, where: str) -> Decimal:
        try:
            return Decimal(str(data[key]))
        except (KeyError, InvalidOperation):
            self.fail(f"{where}.{key}", "missing or not a decimal")
            return Decimal(0)

    def day(self, data: Mapping[str, Any], key: str, where: str) -> date:
        try:
            return date.fromisoformat(str(data[key]))
        except (KeyError, ValueError):
            self.fail(f"{where}.{key}", "missing or not an ISO date")
            return date(1970, 1, 1)

    def components(self, data: Mapping[str, Any], where: str) -> Components:
        return Components(
            *(self.money(data, k, where) for k in ("penalty", "compound", "interest", "principal"))
        )

    def items(self, rows: list[Mapping[str, Any]], where: str) -> tuple[Installment, ...]:
        return tuple(
            Installment(
                int(row["seq"]),
                self.day(row, "due_date", f"{where}[{k}]"),
                self.money(row, "principal", f"{where}[{k}]"),
                self.money(row, "interest", f"{where}[{k}]"),
            )
            for k, row in enumerate(rows)
        )


def terms_from_data(data: Mapping[str, Any]) -> PlanTerms:
    rd = _Reader()
    try:
        if data.get("format") != FORMAT_VERSION:
            rd.fail("format", f"expected {FORMAT_VERSION}, got {data.get('format')!r}")
        rules = data["rules"]
        r = data["restructure"]
        restructure = (
            None
            if r is None
            else RestructureTerms(
                principal=rd.money(r, "principal", "restructure"),
                annual_rate=rd.money(r, "annual_rate", "restructure"),
                term_months=int(r["term_months"]),
                method=RepaymentMethod(r["method"]),
                schedule=rd.items(r["schedule"], "restructure.schedule"),
                classification_before=Classification(r["classification_before"]),
                classification_floor=Classification(r["classification_floor"]),
                observation_end=rd.day(r, "observation_end", "restructure"),
            )
        )
        fields: dict[str, Any] = {
            "kind": PlanKind(data["kind"]),
            "loan_id": str(data["loan_id"]),
            "start": rd.day(data, "start", ""),
            "grace_days": int(data["grace_days"]),
            "months": int(data["months"]),
            "deferral_months": int(data["deferral_months"]),
            "instalments": tuple(
                PlanInstalment(
                    int(row["seq"]),
                    rd.day(row, "due_date", f"instalments[{k}]"),
                    rd.money(row, "amount", f"instalments[{k}]"),
                )
                for k, row in enumerate(data["instalments"])
            ),
            "after_plan": rd.items(data["after_plan"], "after_plan"),
            "opening": rd.components(data["opening"], "opening"),
            "ledger_owed": rd.components(data["ledger_owed"], "ledger_owed"),
            "waiver": rd.components(data["waiver"], "waiver"),
            "waiver_conditional": bool(data["waiver_conditional"]),
            "reinstate": ReinstateRule(data["reinstate"]),
            "fallback_items": rd.items(data["fallback_items"], "fallback_items"),
            "rules": AccrualRules(
                annual_rate=rd.money(rules, "annual_rate", "rules"),
                penalty_markup=rd.money(rules, "penalty_markup", "rules"),
                grace_days=int(rules["grace_days"]),
                day_count_basis=int(rules["day_count_basis"]),
                compound_on_overdue_interest=bool(rules["compound_on_overdue_interest"]),
                penalty_first=bool(rules["penalty_first"]),
            ),
            "restructure": restructure,
        }
    except (KeyError, TypeError, ValueError) as exc:
        rd.fail("", f"malformed plan terms: {exc!r}")
    if rd.issues:
        raise ValidationError(rd.issues)
    try:
        return PlanTerms(**fields)
    except LedgerError as exc:
        raise ValidationError([Issue("plan_terms", None, None, str(exc))]) from None
