"""Negotiation (issue 5): repayment plans, affordability, authority limits, monitoring, promises.

Pure domain: standard library only, no clock (dates are arguments), ``Decimal`` money with
``round2`` (loan-math.md). The arithmetic is documented in docs/negotiation.md.

Typical use (the app calls these; nothing here reads storage)::

    snap = take_snapshot(loan, installments, payments, start, product)   # the loan at D
    proposal = propose_plans(snap, income_expenditure, policy, role=limits)
    terms = instalment_plan(snap, 6, waiver=waiver_of(snap))             # or pick an option
    decision = check_authority(terms, limits)          # needs_approval -> four eyes
    evaluation = evaluate_plan(terms, plan_payments, as_of)              # daily cycle
    promise = evaluate_promise(promised, payments, as_of, made_on=d, tolerance=tol)

Modules: :mod:`.snapshot` (the loan at the plan start), :mod:`.plans` (the calculator),
:mod:`.monitor` (plan state as of a date), :mod:`.promises`, :mod:`.affordability`,
:mod:`.authority`, :mod:`.recovery`, :mod:`.codec` (plan terms as plain data for storage).

The daily cycle: each ``PlanEvent`` carries its date; a run for ``as_of`` acts on the events
dated after its previous run (``evaluate_plan`` is idempotent and decisions are final, so
re-running a day gives the same events).
"""

from arrears.domain.negotiation.affordability import (
    AffordabilityPolicy,
    IncomeExpenditure,
    PlanOption,
    Proposal,
    affordability_reasons,
    disposable_income,
    propose_plans,
)
from arrears.domain.negotiation.authority import (
    AuthorityDecision,
    PlanMeasures,
    Reason,
    RoleLimits,
    approver_roles,
    check_approval,
    check_authority,
    plan_measures,
)
from arrears.domain.negotiation.codec import terms_from_data, terms_to_data
from arrears.domain.negotiation.monitor import (
    InstalmentProgress,
    InstalmentStatus,
    PlanEvaluation,
    PlanEvent,
    PlanEventKind,
    PlanState,
    evaluate_plan,
    reinstatement,
)
from arrears.domain.negotiation.plans import (
    PlanInstalment,
    PlanKind,
    PlanTerms,
    ReinstateRule,
    RestructureTerms,
    deferral_plan,
    instalment_plan,
    restructure_plan,
    restructured_contract,
    settlement_plan,
    waiver_of,
)
from arrears.domain.negotiation.promises import (
    PromiseEvaluation,
    PromiseTolerance,
    evaluate_promise,
)
from arrears.domain.negotiation.recovery import (
    RecoveryComparison,
    RecoveryTable,
    compare_recovery,
    expected_recovery_otherwise,
)
from arrears.domain.negotiation.snapshot import (
    AccountSnapshot,
    AccrualRules,
    Components,
    take_snapshot,
)

__all__ = [
    "AccountSnapshot",
    "AccrualRules",
    "AffordabilityPolicy",
    "AuthorityDecision",
    "Components",
    "IncomeExpenditure",
    "InstalmentProgress",
    "InstalmentStatus",
    "PlanEvaluation",
    "PlanEvent",
    "PlanEventKind",
    "PlanInstalment",
    "PlanKind",
    "PlanMeasures",
    "PlanOption",
    "PlanState",
    "PlanTerms",
    "PromiseEvaluation",
    "PromiseTolerance",
    "Proposal",
    "Reason",
    "RecoveryComparison",
    "RecoveryTable",
    "ReinstateRule",
    "RestructureTerms",
    "RoleLimits",
    "affordability_reasons",
    "approver_roles",
    "check_approval",
    "check_authority",
    "compare_recovery",
    "deferral_plan",
    "disposable_income",
    "evaluate_plan",
    "evaluate_promise",
    "expected_recovery_otherwise",
    "instalment_plan",
    "plan_measures",
    "propose_plans",
    "reinstatement",
    "restructure_plan",
    "restructured_contract",
    "settlement_plan",
    "take_snapshot",
    "terms_from_data",
    "terms_to_data",
    "waiver_of",
]
