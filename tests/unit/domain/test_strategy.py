"""Strategy documents: parsing, located validation errors, stable champion/challenger arms."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arrears.domain.compliance.model import Channel, Purpose
from arrears.domain.errors import ValidationError
from arrears.domain.strategy import (
    ActionKind,
    Anchor,
    PromiseStatus,
    Step,
    arm_hash,
    arm_of,
    parse_strategy,
)
from arrears.services.strategy_files import load_arms, load_strategy, parse_strategy_text

SMALL = """\
name: small
version: 3
segments:
  - name: late
    conditions:
      dpd: {min: 1}
      promise: [broken, none]
      risk_score: {min: 0.5}
    steps:
      - offset: 2
        every: 3
        until: 20
        actions:
          - {action: sms, template: t1}
          - {action: call_task}
  - name: current
    conditions: {dpd: {max: 0}}
    steps:
      - offset: -3
        actions: [{action: pre_due_reminder, template: pre}]
"""


def test_parses_a_small_document() -> None:
    s = parse_strategy_text(SMALL, "small.yaml")
    assert (s.name, s.version, s.salt) == ("small", "3", "small")
    late = s.segments[0]
    assert late.anchor is Anchor.DUE
    assert late.conditions.promise == {PromiseStatus.BROKEN, PromiseStatus.NONE}
    assert late.conditions.risk_score is not None and late.conditions.risk_score.min == 0.5
    step = late.steps[0]
    assert (step.offset, step.every, step.until, step.label) == (2, 3, 20, "D+2/3d..D+20")
    sms, call = step.actions
    assert (sms.kind, sms.channel, sms.purpose, sms.template) == (
        ActionKind.SMS,
        Channel.SMS,
        Purpose.COLLECTION,
        "t1",
    )
    assert (call.kind, call.channel) == (ActionKind.CALL_TASK, Channel.CALL)
    reminder = s.segments[1].steps[0].actions[0]
    assert (reminder.purpose, s.segments[1].steps[0].label) == (Purpose.REMINDER, "D-3")


def test_the_shipped_default_is_valid() -> None:
    s = load_strategy()
    names = [seg.name for seg in s.segments]
    assert names[0] == "legal" and names[-1] == "current"
    assert [a.name for a in load_arms()] == ["champion"]


@pytest.mark.parametrize(
    ("edit", "line", "field", "words"),
    [
        (("every: 3", "every: three"), 11, "segments[0].steps[0].every", "whole number"),
        (
            ("action: sms,", "action: fax,"),
            14,
            "segments[0].steps[0].actions[0].action",
            "unknown action",
        ),
        (
            ("promise: [broken, none]", "promise: [broken, late]"),
            7,
            "segments[0].conditions.promise[1]",
            "unknown value",
        ),
        (
            ("risk_score: {min: 0.5}", "risk_score: {min: 0.9, max: 0.5}"),
            8,
            "segments[0].conditions.risk_score",
            "above max",
        ),
        (
            ("      dpd: {min: 1}", "      dpd: {min: 1}\n      colour: red"),
            7,
            "segments[0].conditions.colour",
            "unknown field",
        ),
        (
            ("template: t1", "channel: sms"),
            14,
            "segments[0].steps[0].actions[0].template",
            "missing",
        ),
        (("offset: -3", "offset: 2"), 20, "segments[1].steps[0].actions[0]", "pre-due"),
    ],
)
def test_errors_name_document_line_column_and_field(
    edit: tuple[str, str], line: int, field: str, words: str
) -> None:
    text = SMALL.replace(*edit)
    assert text != SMALL
    with pytest.raises(ValidationError) as caught:
        parse_strategy_text(text, "small.yaml")
    issue = caught.value.issues[0]
    assert (issue.file, issue.line, issue.column) == ("small.yaml", line, field)
    assert words in issue.reason and "column" in issue.reason
    assert "small.yaml:" in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    text = SMALL.replace("every: 3", "every: 0").replace("action: call_task", "action: fax")
    with pytest.raises(ValidationError) as caught:
        parse_strategy_text(text, "small.yaml")
    assert {i.column for i in caught.value.issues} == {
        "segments[0].steps[0].every",
        "segments[0].steps[0].actions[1].action",
    }


def test_yaml_syntax_errors_are_located() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_strategy_text("name: x\nsegments: [\n", "bad.yaml")
    assert caught.value.issues[0].line == 3
    assert "not valid YAML" in caught.value.issues[0].reason


def test_challengers_shares_and_names() -> None:
    base = {
        "name": "a",
        "version": "1",
        "segments": [{"name": "s", "steps": [{"offset": 1, "actions": [{"action": "call_task"}]}]}],
    }
    ok = parse_strategy({**base, "challengers": [{"strategy": "b.yaml", "share": 0.25}]}, "a")
    assert ok.challengers[0].share == Fraction(1, 4) and ok.challengers[0].name == "b.yaml"
    with pytest.raises(ValidationError, match="less than 1"):
        parse_strategy(
            {
                **base,
                "challengers": [{"strategy": "b", "share": 0.5}, {"strategy": "c", "share": 0.5}],
            },
            "a",
        )


def test_step_reached_with_repeats_and_gaps() -> None:
    step = Step(offset=5, actions=(), every=5, until=30)
    assert [p for p in range(-5, 40) if step.reached(p) is not None] == [5, 10, 15, 20, 25, 30]
    assert step.reached(12, gap=3) == 10 and step.reached(12, gap=2) is None
    assert Step(offset=-3, actions=()).reached(0, gap=5) == -3


def test_arm_of_is_stable_when_accounts_are_added() -> None:
    arms = [("b", Fraction(1, 10)), ("champion", Fraction(9, 10))]
    first = {f"B{i}": arm_of(f"B{i}", arms, "salt") for i in range(500)}
    more = {f"B{i}": arm_of(f"B{i}", arms, "salt") for i in range(2000)}
    assert all(more[k] == v for k, v in first.items())
    # an appended challenger takes accounts from the champion only
    three = [("b", Fraction(1, 10)), ("c", Fraction(1, 10)), ("champion", Fraction(8, 10))]
    for k, v in first.items():
        if v == "b":
            assert arm_of(k, three, "salt") == "b"
    assert arm_hash("B1", "salt") != arm_hash("B1", "other")


@settings(max_examples=20, deadline=None)
@given(share=st.integers(min_value=5, max_value=50), salt=st.text(max_size=8))
def test_arm_shares_within_tolerance(share: int, salt: str) -> None:
    arms = [("challenger", Fraction(share, 100)), ("champion", Fraction(100 - share, 100))]
    n = 4000
    hits = sum(arm_of(f"B{i:07d}", arms, salt) == "challenger" for i in range(n))
    expected = n * share / 100
    sd = (n * share / 100 * (1 - share / 100)) ** 0.5
    assert abs(hits - expected) < 5 * sd
