"""What every rule sees: the attempt at a moment, the history up to it, the pack, the zones.

Rules return a ``Finding`` (blocked or a duty) or None; folds over the state events live
here so each rule reads one condition per line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from arrears.domain.compliance.lexicon import Category, Hit, Lexicon, screen_text
from arrears.domain.compliance.model import (
    Attempt,
    Channel,
    ClockWindow,
    Duty,
    EventKind,
    PastAttempt,
    StateEvent,
    TargetKind,
)
from arrears.domain.compliance.packs import Pack

__all__ = [
    "Ctx",
    "Finding",
    "Wait",
    "attempt_key",
    "block",
    "event_key",
    "per_zone",
    "terms",
]


@dataclass(frozen=True, slots=True)
class Wait:
    """A rule blocks; ``until`` is no later than the earliest instant it could pass
    (None: nothing time-based makes it pass)."""

    until: datetime | None


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    blocked: bool
    en: str
    zh: str
    retry_at: datetime | None = None
    duties: tuple[Duty, ...] = ()


def block(rule: str, en: str, zh: str, retry_at: datetime | None = None) -> Finding:
    return Finding(rule, True, en, zh, retry_at)


def attempt_key(a: PastAttempt) -> tuple[str, ...]:
    return (
        a.at.isoformat(),
        a.channel,
        a.target.kind,
        a.target.address,
        a.outcome,
        a.actor.kind,
        a.actor.id or "",
        a.actor.agency or "",
        a.purpose or "",
    )


def event_key(e: StateEvent) -> tuple[str, ...]:
    return (
        e.at.isoformat(),
        e.kind,
        e.channel or "",
        e.address or "",
        ",".join(e.scope),
        str(e.window or ""),
        e.until.isoformat() if e.until else "",
        e.agency or "",
    )


@dataclass(frozen=True, slots=True)
class Ctx:
    attempt: Attempt
    at: datetime  # the moment judged, UTC
    pack: Pack
    zones: tuple[ZoneInfo, ...]
    zone_assumed: bool
    attempts: tuple[PastAttempt, ...]  # at <= self.at, in a canonical order
    events: tuple[StateEvent, ...]  # at <= self.at, in a canonical order
    lexicon: Lexicon

    @property
    def channel(self) -> Channel:
        return self.attempt.channel

    @property
    def is_third_party(self) -> bool:
        return self.attempt.target.kind is TargetKind.THIRD_PARTY

    def of(self, *kinds: EventKind) -> list[StateEvent]:
        return [e for e in self.events if e.kind in kinds]

    def has(self, kind: EventKind) -> bool:
        return any(e.kind is kind for e in self.events)

    def is_open(self, opened: EventKind, closed: EventKind) -> bool:
        last = self.of(opened, closed)
        return bool(last) and last[-1].kind is opened

    def consent_windows(self) -> list[ClockWindow]:
        """The debtor's consents still in force that cover this channel."""
        if self.attempt.target.kind is not TargetKind.BORROWER:
            return []
        found: list[ClockWindow] = []
        for e in self.of(EventKind.CONSENT, EventKind.CONSENT_WITHDRAWN):
            if e.kind is EventKind.CONSENT_WITHDRAWN:
                found = []
            elif e.window is not None and (not e.scope or self.channel in e.scope):
                found.append(e.window)
        return found

    def opted_out(self) -> list[StateEvent]:
        return [
            e
            for e in self.of(EventKind.OPT_OUT)
            if e.channel in (None, self.channel)
            and e.address in (None, self.attempt.target.address)
        ]

    def to_kind(self, kind: TargetKind) -> list[PastAttempt]:
        return [a for a in self.attempts if a.target.kind is kind]

    def hits(self, *categories: Category) -> list[Hit]:
        if not self.attempt.text:
            return []
        return [h for h in screen_text(self.attempt.text, self.lexicon) if h.category in categories]


def per_zone(ctx: Ctx, check: Callable[[ZoneInfo], Wait | None]) -> Wait | None:
    """Judge in every candidate zone: blocked if any blocks; passes no earlier than the
    latest of their waits (None if any wait is open-ended)."""
    waits = [w for w in (check(z) for z in ctx.zones) if w is not None]
    if not waits:
        return None
    untils = [w.until for w in waits]
    if any(u is None for u in untils):
        return Wait(None)
    return Wait(max(u for u in untils if u is not None))


def terms(hits: Iterable[Hit]) -> str:
    return "、".join(sorted({h.term for h in hits}))
