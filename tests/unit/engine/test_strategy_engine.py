"""The strategy engine on a small hand-made status table: every segment and step of the
default strategy fires exactly as its YAML says."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import pyarrow as pa
import pytest

from arrears.domain.strategy import Arm, arm_of, arms_of
from arrears.engine.columns import MONEY_COLUMNS, STATUS_SCHEMA
from arrears.engine.strategy import FEATURE_SCHEMA, PROPOSAL_SCHEMA, evaluate_strategy
from arrears.services.strategy_files import load_arms, parse_strategy_text

D = date(2026, 11, 28)


def loan(borrower: str, dpd: int, due_in: int | None = None, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {m: 0 for m in MONEY_COLUMNS}
    row.update(
        loan_id=kw.pop("loan_id", f"L-{borrower}"),
        borrower_id=borrower,
        as_of=D,
        dpd=dpd,
        bucket="M0" if dpd == 0 else "M1" if dpd <= 30 else "M2",
        classification="normal",
        next_due_date=None if due_in is None else D + timedelta(days=due_in),
        paid_off=False,
        principal_outstanding=100_000,
    )
    row.update(kw)
    return row


def status(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=STATUS_SCHEMA)


FEATURES = pa.Table.from_pylist(
    [
        {"borrower_id": "risk", "risk_score": 0.9, "days_since_right_party_contact": 1},
        {"borrower_id": "null-risk", "risk_score": None},
        {"borrower_id": "broken", "promise_status": "broken", "days_since_promise_broken": 1},
        {"borrower_id": "m2-contact", "days_since_right_party_contact": 2},
        {"borrower_id": "promised", "promise_status": "open", "days_to_promise": 1},
        {"borrower_id": "promised-later", "promise_status": "open", "days_to_promise": 5},
    ],
    schema=FEATURE_SCHEMA,
)

BOOK = status(
    loan("pre3", 0, 3),
    loan("pre2", 0, 2),
    loan("due0", 0, 0),
    loan("d1", 1, 20),
    loan("d4", 4),
    loan("d10", 10),
    loan("high", 2, principal_outstanding=6_000_000),
    loan("risk", 3),
    loan("null-risk", 3),
    loan("broken", 12),
    loan("promised", 4),
    loan("promised-later", 4),
    loan("m2-none", 45),
    loan("m2-contact", 45),
    loan("legal", 121),
    loan("two", 0, 3, loan_id="L-two-a"),
    loan("two", 1, 30, loan_id="L-two-b"),
    loan("paid", 0, None, paid_off=True),
)


def fired(table: pa.Table) -> set[tuple[str, str, str, str]]:
    return {(r["borrower_id"], r["segment"], r["step"], r["action"]) for r in table.to_pylist()}


def test_each_segment_and_step_fires_as_the_yaml_says() -> None:
    out = evaluate_strategy(load_arms(), BOOK, FEATURES, D)
    assert out.schema == PROPOSAL_SCHEMA
    assert fired(out) == {
        ("pre3", "current", "D-3", "pre_due_reminder"),
        ("due0", "current", "D0", "pre_due_reminder"),
        ("d1", "M1", "D+1", "sms"),
        ("d4", "M1", "D+4/3d..D+30", "call_task"),
        ("d10", "M1", "D+5/5d..D+30", "sms"),
        ("d10", "M1", "D+4/3d..D+30", "call_task"),
        ("high", "M1-high", "D+2/2d..D+30", "call_task"),
        ("risk", "M1-high-risk", "D+1/1d..D+30", "call_task"),
        ("null-risk", "M1", "D+3", "sms"),  # a missing score never matches a range
        ("broken", "broken-promise", "D+1", "door_visit"),  # first match wins over M1
        ("broken", "broken-promise", "D+1", "call_task"),
        # An open promise holds the routine ladder (d4 would get a call task): a reminder
        # the day before its date only; "promised-later" (5 days ahead) gets nothing today.
        ("promised", "promise-open", "D-1", "sms"),
        ("m2-none", "M2-M4-no-contact", "D+31/7d", "door_visit"),
        ("m2-contact", "M2-M4", "D+31/14d", "door_visit"),
        ("m2-contact", "M2-M4", "D+33/3d", "call_task"),
        ("legal", "legal", "D+121", "legal_review"),
        ("legal", "legal", "D+121/30d", "letter"),
        ("two", "M1", "D+1", "sms"),
    }
    rows = {(r["borrower_id"], r["action"]): r for r in out.to_pylist()}
    assert rows[("two", "sms")]["loan_id"] == "L-two-b"  # the worst loan speaks for the account
    pre = rows[("pre3", "pre_due_reminder")]
    assert (pre["channel"], pre["purpose"], pre["template"]) == (
        "sms",
        "reminder",
        "sms_pre_due_d3",
    )
    assert pre["reason"] == "segment current, step D-3: pre_due_reminder by sms (sms_pre_due_d3)"
    assert (pre["arm"], pre["strategy"], pre["strategy_version"], pre["as_of"]) == (
        "champion",
        "default_cn",
        "1",
        D,
    )
    letter = rows[("legal", "letter")]
    assert (letter["purpose"], letter["template"]) == ("notice", "letter_legal_notice")
    assert rows[("legal", "legal_review")]["channel"] is None


@pytest.mark.parametrize(
    ("dpd", "due_in", "gap", "expected"),
    [
        (3, None, 3, {("M1", "D+3", "sms")}),  # D+1 and D+3 passed: only the latest fires
        (2, None, 5, {("M1", "D+1", "sms")}),  # D0 and D+1 passed, D-3 was before the gap
        (0, 1, 3, {("current", "D-3", "pre_due_reminder")}),
        (0, 1, 2, set()),
        (6, None, 1, set()),
    ],
)
def test_skipped_days_fire_the_most_recent_step_only(
    dpd: int, due_in: int | None, gap: int, expected: set[tuple[str, str, str]]
) -> None:
    out = evaluate_strategy(load_arms(), status(loan("x", dpd, due_in)), None, D, gap=gap)
    assert {(s, st, a) for _, s, st, a in fired(out)} == expected


CUSTOM = """\
name: custom
version: 2
salt: s1
challengers: [{strategy: other, share: 0.5, name: other}]
segments:
  - name: city-or-product
    conditions: {dpd: {min: 1}, last_outcome: [refused, none]}
    any_of:
      - {city: [上海]}
      - {product: [kuaidai_sme]}
    steps: [{offset: 1, every: 1, actions: [{action: letter, template: l1}]}]
  - name: rest
    conditions: {amount_due: {min: 1}}
    steps: [{offset: 1, every: 1, actions: [{action: email, template: e1}]}]
"""
OTHER = """\
name: other
version: 9
segments:
  - name: all
    steps: [{offset: 1, every: 1, actions: [{action: agency}]}]
"""


def test_conditions_any_of_and_arms_match_the_domain() -> None:
    champion = parse_strategy_text(CUSTOM, "custom.yaml")
    arms = arms_of(champion, {"other": parse_strategy_text(OTHER, "other.yaml")})
    ids = [f"B{i}" for i in range(40)]
    rows = [
        loan(b, 5, product="kuaidai_sme" if i % 3 == 0 else "kuaidai", total_due_now=i)
        for i, b in enumerate(ids)
    ]
    feats = pa.Table.from_pylist(
        [
            {
                "borrower_id": b,
                "city": "上海" if i % 2 else "北京",
                "last_outcome": None if i % 5 else "refused",
            }
            for i, b in enumerate(ids)
        ]
    )
    out = evaluate_strategy(arms, status(*rows), feats, D).to_pylist()
    shares = [(a.name, a.share) for a in arms]
    for r in out:
        assert r["arm"] == arm_of(r["borrower_id"], shares, "s1")
    by = {r["borrower_id"]: r for r in out}
    for i, b in enumerate(ids):
        if arm_of(b, shares, "s1") == "other":
            assert by[b]["action"] == "agency" and by[b]["strategy"] == "other"
            continue
        matches = i % 2 == 1 or i % 3 == 0
        want = "city-or-product" if matches else ("rest" if i > 0 else None)
        assert (by[b]["segment"] if b in by else None) == want
    assert {r["arm"] for r in out} == {"champion", "other"}


def test_no_accounts_no_proposals() -> None:
    arms = (Arm("champion", parse_strategy_text(OTHER, "o"), Fraction(1)),)
    assert evaluate_strategy(arms, STATUS_SCHEMA.empty_table(), None, D).num_rows == 0
