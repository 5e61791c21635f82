"""Collection strategies: versioned documents of segments, action ladders and challengers.

A strategy names its segments in priority order; an account falls in the first segment whose
conditions it meets. A segment's steps are its action ladder: each step has an ``offset`` in
days on the segment's ``anchor`` — for ``due``, negative before the next due date (−3 is a
reminder three days ahead), 0 on it, then the days past due (+1, +5, ...); for
``promise_broken``, the days since a promise to pay was broken; for ``promise_due``, negative
before an open promise's next promised date (−1: the day before), then the days after it. A
step may repeat ``every`` N days ``until`` an offset. Champion/challenger: a strategy lists
challenger strategies with traffic shares; :func:`arm_of` places a borrower by a stable hash,
so an account keeps its arm as long as the shares do not change.

:func:`parse_strategy` turns plain data (as read from YAML) into a :class:`Strategy`, or
raises a ``ValidationError`` listing every problem with document, line, field and column.
Pure: standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Any, TypeVar

from arrears.domain.compliance.model import Channel, Purpose
from arrears.domain.contacts import ContactOutcome
from arrears.domain.errors import Issue, ValidationError
from arrears.domain.products import DEFAULT_BUCKET_NAMES

__all__ = [
    "ACTION_CHANNELS",
    "HASH_BITS",
    "NO_CONTACT",
    "Action",
    "ActionKind",
    "Anchor",
    "Arm",
    "Challenger",
    "Conditions",
    "Locator",
    "PromiseStatus",
    "Range",
    "Segment",
    "Step",
    "Strategy",
    "arm_bounds",
    "arm_hash",
    "arm_of",
    "arms_of",
    "parse_strategy",
]

HASH_BITS = 52  # the hash's top bits used for arms: exact in a double, same in every engine
NO_CONTACT = "none"  # ``last_outcome`` of an account never contacted


class ActionKind(StrEnum):
    PRE_DUE_REMINDER = "pre_due_reminder"
    SMS = "sms"
    EMAIL = "email"
    CALL_TASK = "call_task"
    LETTER = "letter"
    DOOR_VISIT = "door_visit"
    AGENCY = "agency"
    LEGAL_REVIEW = "legal_review"


# The contact channel of each action; None: an internal task, not a contact (not gated).
ACTION_CHANNELS: Mapping[ActionKind, Channel | None] = {
    ActionKind.PRE_DUE_REMINDER: Channel.SMS,
    ActionKind.SMS: Channel.SMS,
    ActionKind.EMAIL: Channel.EMAIL,
    ActionKind.CALL_TASK: Channel.CALL,
    ActionKind.LETTER: Channel.LETTER,
    ActionKind.DOOR_VISIT: Channel.VISIT,
    ActionKind.AGENCY: None,
    ActionKind.LEGAL_REVIEW: None,
}
_CHANNEL_CHOICES: Mapping[ActionKind, frozenset[Channel]] = {
    ActionKind.PRE_DUE_REMINDER: frozenset({Channel.SMS, Channel.EMAIL, Channel.PUSH}),
}
_NEEDS_TEMPLATE = frozenset(
    {ActionKind.PRE_DUE_REMINDER, ActionKind.SMS, ActionKind.EMAIL, ActionKind.LETTER}
)


class PromiseStatus(StrEnum):
    NONE = "none"
    OPEN = "open"
    BROKEN = "broken"
    PARTLY_KEPT = "partly_kept"  # some paid, not all, by a promised date
    KEPT = "kept"


class Anchor(StrEnum):
    DUE = "due"  # offset: −days to the next due date, then days past due
    PROMISE_BROKEN = "promise_broken"  # offset: days since the promised date passed unpaid
    PROMISE_DUE = "promise_due"  # offset: −days to an open promise's next date, then days past


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds; None: unbounded. A missing value never matches a range."""

    min: int | float | None = None
    max: int | float | None = None

    def contains(self, value: float | None) -> bool:
        if value is None:
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass(frozen=True, slots=True)
class Conditions:
    """All given conditions must hold (an empty one matches every account)."""

    dpd: Range | None = None
    bucket: frozenset[str] | None = None
    balance: Range | None = None  # principal outstanding, all loans, minor units
    amount_due: Range | None = None  # total due now, all loans, minor units
    product: frozenset[str] | None = None
    city: frozenset[str] | None = None
    risk_score: Range | None = None
    promise: frozenset[PromiseStatus] | None = None
    last_outcome: frozenset[str] | None = None  # ContactOutcome values or NO_CONTACT
    no_right_party_contact_days: int | None = None  # none in N days (or never)


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    channel: Channel | None
    purpose: Purpose
    template: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    offset: int
    actions: tuple[Action, ...]
    every: int | None = None
    until: int | None = None

    @property
    def label(self) -> str:
        base = f"D{self.offset:+d}" if self.offset else "D0"
        if self.every is None:
            return base
        end = "" if self.until is None else f"..D{self.until:+d}"
        return f"{base}/{self.every}d{end}"

    def reached(self, position: int, gap: int = 1) -> int | None:
        """The latest offset of this step in ``(position − gap, position]``, else None."""
        top = position if self.until is None else min(position, self.until)
        if top < self.offset:
            return None
        last = self.offset if self.every is None else top - (top - self.offset) % self.every
        return last if last > position - gap else None


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    steps: tuple[Step, ...]
    conditions: Conditions = field(default_factory=Conditions)
    any_of: tuple[Conditions, ...] = ()  # at least one must hold too (when given)
    anchor: Anchor = Anchor.DUE
    description: str = ""


@dataclass(frozen=True, slots=True)
class Challenger:
    strategy: str  # a reference the loader resolves (a file next to this one)
    share: Fraction
    name: str


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    version: str
    segments: tuple[Segment, ...]
    description: str = ""
    challengers: tuple[Challenger, ...] = ()
    salt: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True, slots=True)
class Arm:
    name: str  # "champion" or the challenger's name
    strategy: Strategy
    share: Fraction


def arms_of(champion: Strategy, resolved: Mapping[str, Strategy]) -> tuple[Arm, ...]:
    """Challengers in their listed order, then the champion with the rest of the traffic.

    The champion comes last so that a challenger appended to the list takes its accounts
    from the champion only: every other challenger keeps its accounts.
    """
    arms = [Arm(c.name, resolved[c.strategy], c.share) for c in champion.challengers]
    rest = 1 - sum((c.share for c in champion.challengers), Fraction(0))
    return (*arms, Arm("champion", champion, rest))


def arm_hash(borrower_id: str, salt: str) -> int:
    """The top HASH_BITS bits of sha256(salt + borrower_id): a point of [0, 2**HASH_BITS)."""
    digest = hashlib.sha256((salt + borrower_id).encode()).hexdigest()
    return int(digest[: HASH_BITS // 4], 16)


def arm_bounds(shares: Sequence[Fraction]) -> tuple[int, ...]:
    """Upper bounds (exclusive) of each arm on the hash line; the last arm takes the rest."""
    bounds, total = [], Fraction(0)
    for share in shares[:-1]:
        total += share
        bounds.append(int(total * 2**HASH_BITS))
    return (*bounds, 2**HASH_BITS)


def arm_of(borrower_id: str, arms: Sequence[tuple[str, Fraction]], salt: str) -> str:
    """The arm of a borrower: arms in order, each ``(name, share)``, shares summing to 1."""
    point = arm_hash(borrower_id, salt)
    for (name, _), bound in zip(arms, arm_bounds([s for _, s in arms]), strict=True):
        if point < bound:
            return name
    return arms[-1][0]


# ----- parsing ---------------------------------------------------------------------------

Path = tuple[str | int, ...]
Locator = Callable[[Path], tuple[int, int] | None]  # path → (line, column), 1-based


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(document)"


class _Invalid(Exception):
    """A field failed; its issue is already recorded."""


class _Parser:
    def __init__(self, document: str, locate: Locator | None, buckets: Sequence[str]) -> None:
        self.document, self.locate, self.buckets = document, locate, frozenset(buckets)
        self.issues: list[Issue] = []

    def fail(self, path: Path, reason: str) -> _Invalid:
        where = None
        probe = path
        while where is None and self.locate is not None:
            where = self.locate(probe)
            if not probe:
                break
            probe = probe[:-1]
        line = None if where is None else where[0]
        if where is not None:
            reason = f"{reason} (line {where[0]}, column {where[1]})"
        self.issues.append(Issue(self.document, line, _dotted(path), reason))
        return _Invalid()

    def mapping(self, value: Any, path: Path, known: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, "must be a mapping (key: value)")
        for key in value:
            if key not in known:
                self.fail((*path, str(key)), f"unknown field; expected one of {', '.join(known)}")
        return value

    def text(self, data: Mapping[str, Any], path: Path, required: bool = True) -> str | None:
        value = data.get(str(path[-1]))
        if value is None and not required:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "missing" if value is None else "must be a non-empty text")
        return value.strip()

    def integer(self, data: Mapping[str, Any], path: Path, minimum: int | None = None) -> int:
        value = data.get(str(path[-1]))
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, "missing" if value is None else "must be a whole number")
        if minimum is not None and value < minimum:
            raise self.fail(path, f"must be at least {minimum}")
        return value

    def opt_int(
        self, data: Mapping[str, Any], path: Path, minimum: int | None = None
    ) -> int | None:
        return None if data.get(str(path[-1])) is None else self.integer(data, path, minimum)

    def range(self, value: Any, path: Path, whole: bool) -> Range:
        data = self.mapping(value, path, ("min", "max"))
        bounds: list[int | float | None] = []
        for key in ("min", "max"):
            v = data.get(key)
            ok = isinstance(v, int) if whole else isinstance(v, int | float)
            if v is not None and (isinstance(v, bool) or not ok):
                kind = "a whole number" if whole else "a number"
                raise self.fail((*path, key), f"must be {kind}")
            bounds.append(v)
        low, high = bounds
        if low is None and high is None:
            raise self.fail(path, "give min, max or both")
        if low is not None and high is not None and low > high:
            raise self.fail(path, f"min {low} is above max {high}")
        return Range(low, high)

    def choices(self, value: Any, path: Path, allowed: Sequence[str] | None) -> frozenset[str]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise self.fail(path, "must be a non-empty list")
        out = set()
        for i, item in enumerate(items):
            if not isinstance(item, str | int) or isinstance(item, bool) or str(item) == "":
                self.fail((*path, i), "must be a non-empty text")
            elif allowed is not None and str(item) not in allowed:
                self.fail(
                    (*path, i), f"unknown value {item!r}; expected one of " + ", ".join(allowed)
                )
            else:
                out.add(str(item))
        return frozenset(out)


_CONDITION_FIELDS = (
    "dpd",
    "bucket",
    "balance",
    "amount_due",
    "product",
    "city",
    "risk_score",
    "promise",
    "last_outcome",
    "no_right_party_contact_days",
)
_OUTCOMES = (*[o.value for o in ContactOutcome], NO_CONTACT)


def _conditions(p: _Parser, value: Any, path: Path) -> Conditions:
    data = p.mapping(value, path, _CONDITION_FIELDS)
    found: dict[str, Any] = {}
    ranges = {"dpd": True, "balance": True, "amount_due": True, "risk_score": False}
    sets: dict[str, Sequence[str] | None] = {
        "bucket": sorted(p.buckets),
        "product": None,
        "city": None,
        "promise": [s.value for s in PromiseStatus],
        "last_outcome": _OUTCOMES,
    }
    for key in _CONDITION_FIELDS:
        if data.get(key) is None:
            continue
        try:
            if key in ranges:
                found[key] = p.range(data[key], (*path, key), whole=ranges[key])
            elif key in sets:
                found[key] = p.choices(data[key], (*path, key), sets[key])
            else:
                found[key] = p.integer(data, (*path, key), minimum=1)
        except _Invalid:
            continue
    if "promise" in found:
        found["promise"] = frozenset(PromiseStatus(s) for s in found["promise"])
    return Conditions(**found)


def _action(p: _Parser, value: Any, path: Path) -> Action:
    data = p.mapping(value, path, ("action", "channel", "purpose", "template"))
    name = p.text(data, (*path, "action"))
    if name not in {a.value for a in ActionKind}:
        raise p.fail(
            (*path, "action"),
            f"unknown action {name!r}; expected one of {', '.join(a.value for a in ActionKind)}",
        )
    kind = ActionKind(name)
    channel = ACTION_CHANNELS[kind]
    given = p.text(data, (*path, "channel"), required=False)
    if given is not None:
        allowed = _CHANNEL_CHOICES.get(kind, frozenset({channel} if channel else ()))
        if given not in {c.value for c in allowed}:
            choices = ", ".join(sorted(allowed)) or "none (an internal task)"
            raise p.fail((*path, "channel"), f"{kind.value} goes by {choices}, not {given!r}")
        channel = Channel(given)
    default = Purpose.REMINDER if kind is ActionKind.PRE_DUE_REMINDER else Purpose.COLLECTION
    purpose_text = p.text(data, (*path, "purpose"), required=False) or default.value
    if purpose_text not in {x.value for x in Purpose}:
        raise p.fail(
            (*path, "purpose"),
            f"unknown purpose {purpose_text!r}; expected one of {', '.join(Purpose)}",
        )
    template = p.text(data, (*path, "template"), required=kind in _NEEDS_TEMPLATE)
    return Action(kind, channel, Purpose(purpose_text), template)


def _step(p: _Parser, value: Any, path: Path, anchor: Anchor) -> Step:
    data = p.mapping(value, path, ("offset", "every", "until", "actions"))
    before = len(p.issues)
    offset = _soft(lambda: p.integer(data, (*path, "offset")))
    every = _soft(lambda: p.opt_int(data, (*path, "every"), minimum=1))
    until = _soft(lambda: p.opt_int(data, (*path, "until"), minimum=offset))
    if until is not None and data.get("every") is None:
        p.fail((*path, "until"), "needs every (a step repeats every N days until)")
    if anchor is Anchor.PROMISE_BROKEN and offset is not None and offset < 1:
        p.fail((*path, "offset"), "a promise is broken from day 1 on: use 1 or more")
    raw = data.get("actions")
    if not isinstance(raw, list) or not raw:
        raise p.fail((*path, "actions"), "must be a non-empty list of actions")
    actions = []
    for i, item in enumerate(raw):
        try:
            actions.append(_action(p, item, (*path, "actions", i)))
        except _Invalid:
            continue
    for i, a in enumerate(actions):
        reaches_due = every is not None and (until is None or until > 0)
        if a.kind is ActionKind.PRE_DUE_REMINDER and ((offset or 0) > 0 or reaches_due):
            p.fail((*path, "actions", i), "a pre-due reminder needs an offset of 0 or less")
    if offset is None or len(p.issues) > before:
        raise _Invalid
    return Step(offset, tuple(actions), every, until)


T = TypeVar("T")


def _soft(read: Callable[[], T]) -> T | None:
    """The field's value, or None when it failed (its issue is recorded)."""
    try:
        return read()
    except _Invalid:
        return None


def _segment(p: _Parser, value: Any, path: Path) -> Segment:
    known = ("name", "description", "anchor", "conditions", "any_of", "steps")
    data = p.mapping(value, path, known)
    name = p.text(data, (*path, "name")) or ""
    anchor_text = p.text(data, (*path, "anchor"), required=False) or Anchor.DUE.value
    if anchor_text not in {a.value for a in Anchor}:
        raise p.fail((*path, "anchor"), f"must be one of {', '.join(Anchor)}")
    anchor = Anchor(anchor_text)
    conditions = Conditions()
    if data.get("conditions") is not None:
        conditions = _conditions(p, data["conditions"], (*path, "conditions"))
    any_of: list[Conditions] = []
    raw_any = data.get("any_of")
    if raw_any is not None and (not isinstance(raw_any, list) or not raw_any):
        p.fail((*path, "any_of"), "must be a non-empty list of condition sets")
    elif raw_any is not None:
        any_of = [_conditions(p, c, (*path, "any_of", i)) for i, c in enumerate(raw_any)]
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise p.fail((*path, "steps"), "must be a non-empty list of steps")
    steps = []
    for i, item in enumerate(raw_steps):
        try:
            steps.append(_step(p, item, (*path, "steps", i), anchor))
        except _Invalid:
            continue
    description = p.text(data, (*path, "description"), required=False) or ""
    return Segment(name, tuple(steps), conditions, tuple(any_of), anchor, description)


def _share(p: _Parser, value: Any, path: Path) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise p.fail(path, "must be a number between 0 and 1")
    try:
        share = Fraction(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        raise p.fail(path, "must be a number between 0 and 1") from None
    if not 0 < share < 1:
        raise p.fail(path, "must be above 0 and below 1")
    return share


def _challengers(p: _Parser, value: Any, path: Path) -> tuple[Challenger, ...]:
    if not isinstance(value, list):
        raise p.fail(path, "must be a list of {strategy, share}")
    out = []
    for i, item in enumerate(value):
        try:
            data = p.mapping(item, (*path, i), ("strategy", "share", "name"))
            ref = p.text(data, (*path, i, "strategy")) or ""
            share = _share(p, data.get("share"), (*path, i, "share"))
            name = p.text(data, (*path, i, "name"), required=False) or ref.rsplit("/", 1)[-1]
            out.append(Challenger(ref, share, name))
        except _Invalid:
            continue
    if sum((c.share for c in out), Fraction(0)) >= 1:
        p.fail(path, "challenger shares must add up to less than 1 (the champion keeps the rest)")
    names = [c.name for c in out]
    if "champion" in names or len(set(names)) < len(names):
        p.fail(path, "challenger names must be distinct and not 'champion'")
    return tuple(out)


def parse_strategy(
    data: Any,
    document: str,
    locate: Locator | None = None,
    buckets: Sequence[str] = DEFAULT_BUCKET_NAMES,
) -> Strategy:
    """A strategy from plain data, or a ValidationError naming every bad field."""
    p = _Parser(document, locate, buckets)
    known = ("name", "version", "description", "salt", "segments", "challengers")
    try:
        top = p.mapping(data, (), known)
    except _Invalid:
        raise ValidationError(p.issues) from None
    name = version = ""
    with contextlib.suppress(_Invalid):
        name = p.text(top, ("name",)) or ""
    with contextlib.suppress(_Invalid):
        version = p.text(top, ("version",)) or ""
    segments: list[Segment] = []
    raw = top.get("segments")
    if not isinstance(raw, list) or not raw:
        p.fail(("segments",), "must be a non-empty list of segments")
        raw = []
    for i, item in enumerate(raw):
        try:
            segments.append(_segment(p, item, ("segments", i)))
        except _Invalid:
            continue
    seen: set[str] = set()
    for i, seg in enumerate(segments):
        if seg.name in seen:
            p.fail(("segments", i, "name"), f"segment {seg.name!r} is named twice")
        seen.add(seg.name)
    challengers: tuple[Challenger, ...] = ()
    if top.get("challengers") is not None:
        with contextlib.suppress(_Invalid):
            challengers = _challengers(p, top["challengers"], ("challengers",))
    description = salt = ""
    try:
        description = p.text(top, ("description",), required=False) or ""
        salt = p.text(top, ("salt",), required=False) or name
    except _Invalid:
        pass
    if p.issues:
        raise ValidationError(p.issues)
    return Strategy(name, version, tuple(segments), description, challengers, salt)
