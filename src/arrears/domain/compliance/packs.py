"""Rule packs: each rule's parameters as a set with a source and a floor, versioned.

A lender may tighten any parameter (``Pack.with_parameters``); loosening past the pack's
floor raises ``PackError`` unless an ``Approval`` (who, when, reason) is given. The pack id,
its version and the overrides travel with every decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from enum import StrEnum

from arrears.domain.compliance.model import ClockWindow
from arrears.domain.errors import ArrearsError

__all__ = [
    "PACKS",
    "Approval",
    "Direction",
    "Pack",
    "PackError",
    "Param",
    "ParamValue",
    "RuleSpec",
    "cn_pack",
    "pack_by_id",
    "us_pack",
]

ParamValue = int | bool | ClockWindow | frozenset[str]


class PackError(ArrearsError):
    """An unknown pack or parameter, or a loosening past the floor without approval."""


class Direction(StrEnum):
    MAX = "max"  # an upper limit: a lower value is tighter
    MIN = "min"  # a lower limit (a wait, a lead, a headcount): a higher value is tighter
    WINDOW = "window"  # permitted hours [start, end): a sub-window is tighter
    FLAG = "flag"  # a duty switched on: on is tighter
    DATA = "data"  # the lender's own data (e.g. agency white-list): no floor


@dataclass(frozen=True, slots=True)
class Param:
    value: ParamValue
    floor: ParamValue
    direction: Direction


@dataclass(frozen=True, slots=True)
class RuleSpec:
    rule_id: str
    source: str
    params: Mapping[str, Param] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Approval:
    who: str
    when: datetime
    reason: str

    def __post_init__(self) -> None:
        if self.when.tzinfo is None:
            raise PackError("Approval.when must be timezone-aware")
        if not self.who.strip() or not self.reason.strip():
            raise PackError("an approval names who approved it and why")

    def to_json(self) -> dict[str, str]:
        return {"who": self.who, "when": self.when.isoformat(), "reason": self.reason}


def _tighter_or_equal(direction: Direction, value: ParamValue, bound: ParamValue) -> bool:
    """Is ``value`` at least as strict as ``bound``?"""
    if direction is Direction.DATA:
        return True
    if direction is Direction.FLAG:
        return bool(value) or not bool(bound)
    if direction is Direction.WINDOW:
        if not (isinstance(value, ClockWindow) and isinstance(bound, ClockWindow)):
            raise PackError(f"expected permitted hours, got {value!r}")
        return bound.start <= value.start and value.end <= bound.end
    if not (isinstance(value, int) and isinstance(bound, int)):
        raise PackError(f"expected a whole number, got {value!r}")
    return value <= bound if direction is Direction.MAX else value >= bound


def _check_type(rule: str, name: str, old: Param, value: ParamValue) -> None:
    expected: type | tuple[type, ...] = type(old.value)
    if isinstance(old.value, frozenset):
        expected = frozenset
    ok = isinstance(value, expected) and not (isinstance(value, bool) and expected is int)
    if not ok:
        raise PackError(f"{rule}.{name}: expected {type(old.value).__name__}, got {value!r}")
    if isinstance(value, ClockWindow) and not value.start < value.end:
        raise PackError(f"{rule}.{name}: permitted hours must not wrap midnight ({value})")


@dataclass(frozen=True, slots=True)
class Pack:
    pack_id: str
    version: str
    rules: Mapping[str, RuleSpec]
    overrides: Mapping[str, str] = field(default_factory=dict)
    approvals: tuple[Approval, ...] = ()

    @property
    def overridden(self) -> bool:
        return bool(self.overrides)

    def has(self, rule: str) -> bool:
        return rule in self.rules

    def value(self, rule: str, name: str) -> ParamValue:
        return self.rules[rule].params[name].value

    def int_(self, rule: str, name: str) -> int:
        v = self.value(rule, name)
        if not isinstance(v, int):
            raise PackError(f"{rule}.{name} is not int")
        return v

    def window(self, rule: str, name: str) -> ClockWindow:
        v = self.value(rule, name)
        if not isinstance(v, ClockWindow):
            raise PackError(f"{rule}.{name} is not ClockWindow")
        return v

    def names(self, rule: str, name: str) -> frozenset[str]:
        v = self.value(rule, name)
        if not isinstance(v, frozenset):
            raise PackError(f"{rule}.{name} is not frozenset")
        return v

    def with_parameters(
        self,
        changes: Mapping[str, Mapping[str, ParamValue]],
        approval: Approval | None = None,
    ) -> Pack:
        """A copy with the lender's parameters. Loosening past a floor needs ``approval``."""
        rules = dict(self.rules)
        overrides = dict(self.overrides)
        for rule_id, params in changes.items():
            if rule_id not in rules:
                raise PackError(f"pack {self.pack_id} has no rule {rule_id}")
            spec = rules[rule_id]
            new_params = dict(spec.params)
            for name, value in params.items():
                if name not in new_params:
                    known = ", ".join(sorted(new_params)) or "none"
                    raise PackError(f"{rule_id} has no parameter {name!r} (known: {known})")
                old = new_params[name]
                _check_type(rule_id, name, old, value)
                if not _tighter_or_equal(old.direction, value, old.floor) and approval is None:
                    raise PackError(
                        f"{rule_id}.{name}={_show(value)} loosens the pack's floor "
                        f"{_show(old.floor)}; it needs a compliance officer's approval"
                    )
                new_params[name] = replace(old, value=value)
                overrides[f"{rule_id}.{name}"] = _show(value)
            rules[rule_id] = replace(spec, params=new_params)
        approvals = self.approvals + ((approval,) if approval is not None else ())
        return replace(self, rules=rules, overrides=overrides, approvals=approvals)


def _show(value: ParamValue) -> str:
    if isinstance(value, frozenset):
        return ",".join(sorted(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _p(value: ParamValue, direction: Direction, floor: ParamValue | None = None) -> Param:
    return Param(value, value if floor is None else floor, direction)


def _w(start: int, end: int) -> ClockWindow:
    return ClockWindow(time(start), time(end))


_CBA = "中国银行业协会《金融机构个人消费类贷款催收工作指引（试行）》(2026)"
_NIFA = "中国互联网金融协会 催收指引; GB/T (2025) 互联网消费信贷催收"
_CARD = "《商业银行信用卡业务监督管理办法》(2011)"


def cn_pack() -> Pack:
    mx, mn, win = Direction.MAX, Direction.MIN, Direction.WINDOW
    specs = [
        RuleSpec("CN-T1", f"{_CBA}; {_NIFA}", {"permitted_hours": _p(_w(8, 22), win)}),
        RuleSpec(
            "CN-T2",
            "lender setting, bounded by CN-T1",
            {"visit_hours": _p(_w(8, 20), win, floor=_w(8, 22))},
        ),
        RuleSpec("CN-F1", _CBA, {"max_unanswered_calls_per_number_per_day": _p(6, mx)}),
        RuleSpec("CN-F2", _CBA, {"max_answered_calls_per_debtor_per_day": _p(3, mx)}),
        RuleSpec(
            "CN-F3",
            "lender setting (no source number; floor kept at the default)",
            {"max_automated_messages_per_debtor_per_day": _p(3, mx)},
        ),
        RuleSpec("CN-P1", f"{_CARD} Art. 68; PIPL Arts. 5, 6; 刑法 Art. 253-1"),
        RuleSpec(
            "CN-P2",
            f"{_CBA}; PIPL Art. 13",
            {
                "failed_attempts_before_locate": _p(3, mn),
                "max_per_third_party_per_day": _p(1, mx),
                "max_per_third_party_per_week": _p(3, mx),
            },
        ),
        RuleSpec("CN-H1", f"《银行保险机构消费者权益保护管理办法》(2023) Art. 41; {_CBA}"),
        RuleSpec("CN-H2", f"{_CBA}; PIPL Arts. 15, 44"),
        RuleSpec("CN-X1", f"{_CARD} Art. 69; 刑法 Art. 293-1; {_NIFA}"),
        RuleSpec("CN-X2", "最高人民法院 民间借贷司法解释; 刑法 Art. 293-1"),
        RuleSpec(
            "CN-R1",
            f"{_CBA}; PIPL Art. 19",
            {"retention_years": _p(2, mn), "recording": _p(True, Direction.FLAG)},
        ),
        RuleSpec("CN-R2", f"{_CARD} Art. 66"),
        RuleSpec(
            "CN-V1",
            _CBA,
            {"min_staff": _p(2, mn), "recording": _p(True, Direction.FLAG)},
        ),
        RuleSpec(
            "CN-O1",
            f"{_CBA}; {_CARD} Art. 68",
            {"agencies": _p(frozenset(), Direction.DATA)},
        ),
        RuleSpec("CN-O2", _CBA),
        RuleSpec(
            "CN-C1",
            "《征信业管理条例》 Arts. 15, 16, 25, 29",
            {
                "notice_lead_days": _p(7, mn, floor=0),
                "dispute_answer_days": _p(20, mx),
            },
        ),
        RuleSpec("CN-D1", "PIPL Arts. 28, 51, 55"),
    ]
    return Pack("CN", "1", {s.rule_id: s for s in specs})


_REGF = "12 CFR 1006 (Regulation F)"


def us_pack() -> Pack:
    mx, mn = Direction.MAX, Direction.MIN
    specs = [
        RuleSpec(
            "US-T1",
            f"{_REGF} §1006.6(b)(1)(i)",
            {"permitted_hours": _p(_w(8, 21), Direction.WINDOW)},
        ),
        RuleSpec(
            "US-F1",
            f"{_REGF} §1006.14(b)(2)",
            {
                "max_calls_in_window": _p(7, mx),
                "window_days": _p(7, mn),
                "days_after_conversation": _p(7, mn),
            },
        ),
        RuleSpec("US-F2", f"{_REGF} §1006.14(h), §1006.6(c)"),
        RuleSpec("US-E1", f"{_REGF} §1006.6(d)(4)(ii), §1006.6(e)"),
        RuleSpec("US-V1", f"{_REGF} §1006.34(a)", {"days_after_initial": _p(5, mx)}),
        RuleSpec("US-W1", f"{_REGF} §1006.6(b)(3)"),
        RuleSpec(
            "US-3P",
            f"{_REGF} §1006.10, §1006.6(d)",
            {"max_contacts_per_person": _p(1, mx)},
        ),
        RuleSpec("US-B1", f"{_REGF} §1006.26(b)"),
        RuleSpec("US-C1", f"{_REGF} §1006.30(a)", {"wait_days": _p(14, mn)}),
    ]
    return Pack("US", "1", {s.rule_id: s for s in specs})


PACKS = {"CN": cn_pack, "US": us_pack}


def pack_by_id(pack_id: str) -> Pack:
    try:
        return PACKS[pack_id.upper()]()
    except KeyError:
        raise PackError(f"unknown pack {pack_id!r} (known: {', '.join(PACKS)})") from None
