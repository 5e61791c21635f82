"""The compliance gate: one pure, deterministic function from attempt + history + pack to a
decision.

Every rule of the pack is evaluated (none short-circuits), so the decision lists every
blocking rule. ``next_allowed_at`` is found by stepping to the latest "could pass from" time
of the blocking rules and re-judging, until every rule passes — each step's interval is
blocked throughout, so the instant found is the earliest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from arrears.domain.compliance.clock import CN_ZONES, US_ZONES, resolve_zone
from arrears.domain.compliance.context import Ctx, Finding, attempt_key, event_key
from arrears.domain.compliance.lexicon import DEFAULT_LEXICON, Lexicon
from arrears.domain.compliance.model import (
    Attempt,
    Decision,
    Duty,
    HistoryEntry,
    PastAttempt,
    StateEvent,
    TargetKind,
)
from arrears.domain.compliance.packs import Pack, PackError
from arrears.domain.compliance.rules_cn import CN_RULES
from arrears.domain.compliance.rules_us import US_RULES

__all__ = ["decide"]

RULES: dict[str, tuple[Callable[[Ctx], Finding | None], ...]] = {"CN": CN_RULES, "US": US_RULES}
FALLBACK_ZONES = {"CN": CN_ZONES, "US": US_ZONES}
MAX_STEPS = 1000


def decide(
    attempt: Attempt,
    history: Iterable[HistoryEntry],
    pack: Pack,
    holds: Iterable[StateEvent] = (),
    lexicon: Lexicon = DEFAULT_LEXICON,
) -> Decision:
    """Judge ``attempt`` against the history (past attempts and state events) and the
    account's ``holds`` (more state events) under ``pack``. Entries later than the moment
    judged are not yet known at it and are ignored."""
    if attempt.pack.upper() != pack.pack_id:
        raise PackError(
            f"the attempt names pack {attempt.pack!r} but pack {pack.pack_id} was given"
        )
    entries = [*history, *holds]
    attempts = sorted((e for e in entries if isinstance(e, PastAttempt)), key=attempt_key)
    events = sorted((e for e in entries if isinstance(e, StateEvent)), key=event_key)
    sorted_attempts = sorted(attempts, key=lambda a: a.at)
    sorted_events = sorted(events, key=lambda e: e.at)

    def judge(at: datetime) -> list[Finding]:
        return _judge(attempt, at, pack, sorted_attempts, sorted_events, lexicon)

    start = attempt.at.astimezone(UTC)
    findings = judge(start)
    blocked = [f for f in findings if f.blocked]
    next_at = start if not blocked else _next_allowed(start, blocked, judge)
    return _decision(attempt, pack, findings, next_at)


def _zones(attempt: Attempt, pack: Pack) -> tuple[tuple[str, ...], bool]:
    zone = resolve_zone(attempt.target.timezone)
    if zone is not None:
        return (zone.key,), False
    return FALLBACK_ZONES[pack.pack_id], True


def _judge(
    attempt: Attempt,
    at: datetime,
    pack: Pack,
    attempts: list[PastAttempt],
    events: list[StateEvent],
    lexicon: Lexicon,
) -> list[Finding]:
    names, assumed = _zones(attempt, pack)
    zones = tuple(z for z in (resolve_zone(n) for n in names) if z is not None)
    ctx = Ctx(
        attempt=attempt,
        at=at,
        pack=pack,
        zones=zones,
        zone_assumed=assumed,
        attempts=tuple(a for a in attempts if a.at <= at),
        events=tuple(e for e in events if e.at <= at),
        lexicon=lexicon,
    )
    found = [f for f in (rule(ctx) for rule in RULES[pack.pack_id]) if f is not None]
    return sorted(found, key=lambda f: f.rule)


def _next_allowed(
    start: datetime, blocked: list[Finding], judge: Callable[[datetime], list[Finding]]
) -> datetime | None:
    at = start
    for _ in range(MAX_STEPS):
        waits = [f.retry_at for f in blocked]
        if not waits:
            return at
        if any(w is None for w in waits):
            return None
        step = max(w for w in waits if w is not None)
        if step <= at:  # a rule that cannot say when it passes: never allow on a guess
            return None
        at = step
        blocked = [f for f in judge(at) if f.blocked]
    return None


def _decision(
    attempt: Attempt, pack: Pack, findings: list[Finding], next_at: datetime | None
) -> Decision:
    blocked = [f for f in findings if f.blocked]
    duties: list[Duty] = sorted(
        {d for f in findings for d in f.duties}, key=lambda d: (d.rule, d.code)
    )
    en = [f.en for f in findings]
    zh = [f.zh for f in findings]
    names, assumed = _zones(attempt, pack)
    if assumed:
        given = attempt.target.timezone or "missing"
        en.append(
            f"The target's time zone is unknown ({given}), so times are judged in every zone "
            f"the country spans ({', '.join(names)}) and must pass in all of them."
        )
        zh.append(
            f"目标时区未知（{given}），故按该国所跨全部时区（{'、'.join(names)}）判断，须全部满足。"
        )
    if attempt.target.kind is TargetKind.THIRD_PARTY and not attempt.target.relation:
        en.append("The relation is unknown, so the person is treated as an unrelated third party.")
        zh.append("关系未知，按无关第三方处理。")
    if blocked and next_at is not None:
        en.append(f"The same attempt would pass from {next_at.isoformat()}.")
        zh.append(f"同一联系最早可于 {next_at.isoformat()} 进行。")
    elif blocked:
        en.append("No later time makes this attempt pass on the same history.")
        zh.append("在同一历史下，任何更晚的时间都不能使此联系通过。")
    if not blocked:
        en.insert(0, f"Allowed under pack {pack.pack_id} v{pack.version}.")
        zh.insert(0, f"依 {pack.pack_id} 规则包 v{pack.version} 允许。")
    return Decision(
        allowed=not blocked,
        rules=tuple(sorted({f.rule for f in findings})),
        blocked_by=tuple(sorted({f.rule for f in blocked})),
        reasons={"zh-CN": "".join(zh), "en": " ".join(en)},
        next_allowed_at=next_at,
        duties=tuple(duties),
        pack_id=pack.pack_id,
        pack_version=pack.version,
        overridden=pack.overridden,
        overrides=dict(pack.overrides),
        approvals=tuple(a.to_json() for a in pack.approvals),
    )
