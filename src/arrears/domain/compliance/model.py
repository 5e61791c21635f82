"""What goes into the compliance gate and what comes out of it.

An ``Attempt`` is a proposed contact (or adverse credit report); the history is a sequence of
``PastAttempt`` and ``StateEvent`` rows; the gate answers with a ``Decision``. Every time is
timezone-aware; money never appears here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum

__all__ = [
    "AUTOMATED_CHANNELS",
    "CONTACT_CHANNELS",
    "ELECTRONIC_CHANNELS",
    "NOT_REACHED",
    "Actor",
    "ActorKind",
    "Attempt",
    "Channel",
    "ClockWindow",
    "Decision",
    "Duty",
    "EventKind",
    "History",
    "HistoryEntry",
    "Outcome",
    "PastAttempt",
    "Purpose",
    "StateEvent",
    "Target",
    "TargetKind",
]


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    CALL = "call"
    VISIT = "visit"
    LETTER = "letter"
    PUSH = "push"
    CREDIT_REPORT = "credit_report"  # an adverse report to a credit bureau (CN-C1, US-C1)


CONTACT_CHANNELS = frozenset(c for c in Channel if c is not Channel.CREDIT_REPORT)
AUTOMATED_CHANNELS = frozenset({Channel.SMS, Channel.PUSH, Channel.EMAIL})
ELECTRONIC_CHANNELS = AUTOMATED_CHANNELS


class Purpose(StrEnum):
    REMINDER = "reminder"
    COLLECTION = "collection"
    NOTICE = "notice"
    LOCATE = "locate"
    NEGOTIATION = "negotiation"


class TargetKind(StrEnum):
    BORROWER = "borrower"
    GUARANTOR = "guarantor"
    THIRD_PARTY = "third_party"


class ActorKind(StrEnum):
    SYSTEM = "system"
    COLLECTOR = "collector"
    AGENCY = "agency"


class Outcome(StrEnum):
    ANSWERED = "answered"
    UNANSWERED = "unanswered"
    FAILED = "failed"
    DELIVERED = "delivered"
    BOUNCED = "bounced"


NOT_REACHED = frozenset({Outcome.UNANSWERED, Outcome.FAILED, Outcome.BOUNCED})


class EventKind(StrEnum):
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_CLOSED = "dispute_closed"
    COMPLAINT_OPENED = "complaint_opened"
    COMPLAINT_CLOSED = "complaint_closed"
    CONSENT = "consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OPT_OUT = "opt_out"
    CEASE = "cease"
    HARDSHIP_PAUSE = "hardship_pause"
    HARDSHIP_END = "hardship_end"
    ILLEGAL_DEBT = "illegal_debt"
    TIME_BARRED = "time_barred"
    EMPLOYER_FORBIDS = "employer_forbids"
    VALIDATION_NOTICE_SENT = "validation_notice_sent"
    CREDIT_NOTICE_SENT = "credit_notice_sent"
    CREDIT_NOTICE_RETURNED = "credit_notice_returned"
    AGENCY_NOTICE = "agency_notice"
    NUMBERS_INVALID = "numbers_invalid"


@dataclass(frozen=True, slots=True)
class ClockWindow:
    """Wall-clock hours ``[start, end)``; wraps past midnight when ``end <= start``."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class Target:
    """Who is contacted, at which number or address. ``timezone`` None = unknown."""

    kind: TargetKind
    address: str
    relation: str | None = None
    timezone: str | None = None
    workplace: bool = False


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str | None = None
    agency: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """A proposed contact. ``text``: the message or script (screened by CN-X1);
    ``letter``: the fields of a collection letter (CN-R2); ``staff``: who makes a visit."""

    pack: str
    channel: Channel
    purpose: Purpose
    target: Target
    at: datetime
    actor: Actor
    text: str | None = None
    letter: Mapping[str, str] | None = None
    staff: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("Attempt.at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class PastAttempt:
    channel: Channel
    target: Target
    at: datetime
    outcome: Outcome
    actor: Actor
    purpose: Purpose | None = None


@dataclass(frozen=True, slots=True)
class StateEvent:
    """A change of the account's state. Fields used by kind: ``opt_out`` channel/address;
    ``consent`` scope (empty = every channel) and window; ``hardship_pause`` until;
    ``employer_forbids`` address (optional); ``agency_notice`` agency."""

    kind: EventKind
    at: datetime
    channel: Channel | None = None
    address: str | None = None
    scope: tuple[Channel, ...] = ()
    window: ClockWindow | None = None
    until: datetime | None = None
    agency: str | None = None


HistoryEntry = PastAttempt | StateEvent
History = tuple[HistoryEntry, ...]


@dataclass(frozen=True, slots=True)
class Duty:
    rule: str
    code: str
    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rules: tuple[str, ...]  # every blocking rule and every rule imposing a duty, sorted
    blocked_by: tuple[str, ...]
    reasons: Mapping[str, str]  # "zh-CN", "en"
    next_allowed_at: datetime | None
    duties: tuple[Duty, ...]
    pack_id: str
    pack_version: str
    overridden: bool
    overrides: Mapping[str, str] = field(default_factory=dict)
    approvals: tuple[Mapping[str, str], ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "rules": list(self.rules),
            "blocked_by": list(self.blocked_by),
            "reasons": dict(self.reasons),
            "next_allowed_at": (
                None if self.next_allowed_at is None else self.next_allowed_at.isoformat()
            ),
            "duties": [
                {"rule": d.rule, "duty": d.code, "en": d.en, "zh-CN": d.zh} for d in self.duties
            ],
            "pack": {
                "id": self.pack_id,
                "version": self.pack_version,
                "overridden": self.overridden,
                "overrides": dict(self.overrides),
                "approvals": [dict(a) for a in self.approvals],
            },
        }
