"""Pack CN: one function per rule, each returning a blocking Finding, a duty, or None."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from arrears.domain.compliance.clock import day_start, local_day, rolling_free_day
from arrears.domain.compliance.context import Ctx, Finding, Wait, block, per_zone, terms
from arrears.domain.compliance.lexicon import Category
from arrears.domain.compliance.model import (
    AUTOMATED_CHANNELS,
    CONTACT_CHANNELS,
    NOT_REACHED,
    Channel,
    ClockWindow,
    Duty,
    EventKind,
    Outcome,
    PastAttempt,
    Purpose,
    TargetKind,
)
from arrears.domain.compliance.rules_cn_conduct import c1, h1, h2, o1, r1, r2, v1, x1, x2
from arrears.domain.compliance.windows import daily_limit, outside_hours

__all__ = ["CN_RULES"]

PAYING = frozenset({TargetKind.BORROWER, TargetKind.GUARANTOR})
COLLECTING = frozenset({Purpose.REMINDER, Purpose.COLLECTION, Purpose.NEGOTIATION})


def t1(ctx: Ctx) -> Finding | None:
    if ctx.channel not in CONTACT_CHANNELS:
        return None
    allowed = ctx.pack.window("CN-T1", "permitted_hours")
    wait = outside_hours(ctx, allowed, ctx.consent_windows())
    if wait is None:
        return None
    quiet = ClockWindow(allowed.end, allowed.start)
    return block(
        "CN-T1",
        f"No contact in quiet hours {quiet} at the target's local time, and no consent "
        "of the debtor covers this time.",
        f"目标当地时间 {quiet} 为禁止联系时段，且无债务人同意覆盖此时间。",
        wait.until,
    )


def t2(ctx: Ctx) -> Finding | None:
    if ctx.channel is not Channel.VISIT:
        return None
    hours = ctx.pack.window("CN-T2", "visit_hours")
    wait = outside_hours(ctx, hours, [])
    if wait is None:
        return None
    return block(
        "CN-T2",
        f"Door visits only within visiting hours {hours} at the target's local time.",
        f"上门催收仅限目标当地时间 {hours} 之间。",
        wait.until,
    )


def f1(ctx: Ctx) -> Finding | None:
    if ctx.channel is not Channel.CALL:
        return None
    limit = ctx.pack.int_("CN-F1", "max_unanswered_calls_per_number_per_day")
    address = ctx.attempt.target.address

    def counted(a: PastAttempt) -> bool:
        return (
            a.channel is Channel.CALL
            and a.target.address == address
            and a.outcome in (Outcome.UNANSWERED, Outcome.FAILED)
        )

    wait, n = daily_limit(ctx, counted, limit)
    if wait is None:
        return None
    return block(
        "CN-F1",
        f"This number already has {n} unanswered calls today (limit {limit} per number "
        "per day, target's local day).",
        f"该号码当日未接通呼叫已达 {n} 次（每号码每日上限 {limit} 次，按目标当地日计）。",
        wait.until,
    )


def f2(ctx: Ctx) -> Finding | None:
    kind = ctx.attempt.target.kind
    if ctx.channel is not Channel.CALL or kind not in PAYING:
        return None
    if ctx.attempt.purpose not in COLLECTING:
        return None
    limit = ctx.pack.int_("CN-F2", "max_answered_calls_per_debtor_per_day")

    def counted(a: PastAttempt) -> bool:
        return (
            a.channel is Channel.CALL
            and a.target.kind is kind
            and a.outcome is Outcome.ANSWERED
            and a.purpose not in (Purpose.NOTICE, Purpose.LOCATE)
        )

    wait, n = daily_limit(ctx, counted, limit)
    if wait is None:
        return None
    return block(
        "CN-F2",
        f"The debtor already answered {n} collection calls today from the lender and its "
        f"agencies together (limit {limit} per day).",
        f"债务人当日已接听贷款机构及其委托机构合计 {n} 次催收电话（每日上限 {limit} 次）。",
        wait.until,
    )


def f3(ctx: Ctx) -> Finding | None:
    kind = ctx.attempt.target.kind
    if ctx.channel not in AUTOMATED_CHANNELS or kind not in PAYING:
        return None
    limit = ctx.pack.int_("CN-F3", "max_automated_messages_per_debtor_per_day")

    def counted(a: PastAttempt) -> bool:
        return a.channel in AUTOMATED_CHANNELS and a.target.kind is kind

    wait, n = daily_limit(ctx, counted, limit)
    if wait is None:
        return None
    return block(
        "CN-F3",
        f"The debtor already received {n} automated messages (SMS, push, email) today "
        f"(limit {limit} per day).",
        f"债务人当日已收到 {n} 条自动消息（短信、推送、邮件）（每日上限 {limit} 条）。",
        wait.until,
    )


def p1(ctx: Ctx) -> Finding | None:
    if not ctx.is_third_party or ctx.channel not in CONTACT_CHANNELS:
        return None
    disclosed = ctx.hits(Category.DEBT_MENTION)
    if ctx.attempt.purpose is not Purpose.LOCATE or disclosed:
        why = f" (the text mentions: {terms(disclosed)})" if disclosed else ""
        why_zh = f"（文本提及：{terms(disclosed)}）" if disclosed else ""
        return block(
            "CN-P1",
            f"A third party is never asked to pay and the debt is never disclosed to one{why}.",
            f"不得要求第三方还款，也不得向第三方披露债务{why_zh}。",
        )
    duty = Duty("CN-P1", "no_debt_disclosure", "Do not disclose the debt.", "不得披露债务。")
    return Finding(
        "CN-P1",
        False,
        "The third party may be asked only for the debtor's whereabouts, not told of the debt.",
        "仅可向第三方询问债务人下落，不得透露债务。",
        duties=(duty,),
    )


def _debtor_unreachable(ctx: Ctx) -> bool:
    if ctx.has(EventKind.NUMBERS_INVALID):
        return True
    n = ctx.pack.int_("CN-P2", "failed_attempts_before_locate")
    last = ctx.to_kind(TargetKind.BORROWER)[-n:] if n > 0 else []
    return len(last) == n and all(a.outcome in NOT_REACHED for a in last)


def _third_party_wait(ctx: Ctx) -> Wait | None:
    per_day = ctx.pack.int_("CN-P2", "max_per_third_party_per_day")
    per_week = ctx.pack.int_("CN-P2", "max_per_third_party_per_week")
    address = ctx.attempt.target.address

    def check(zone: ZoneInfo) -> Wait | None:
        days = [
            local_day(a.at, zone)
            for a in ctx.to_kind(TargetKind.THIRD_PARTY)
            if a.target.address == address
        ]
        today = local_day(ctx.at, zone)
        free = [
            rolling_free_day(days, today, per_day, 1),
            rolling_free_day(days, today, per_week, 7),
        ]
        if any(d is None for d in free):
            return Wait(None)
        first = max(d for d in free if d is not None)
        return None if first == today else Wait(day_start(first, zone))

    return per_zone(ctx, check)


def p2(ctx: Ctx) -> Finding | None:
    if not ctx.is_third_party or ctx.channel not in CONTACT_CHANNELS:
        return None
    n = ctx.pack.int_("CN-P2", "failed_attempts_before_locate")
    if ctx.attempt.purpose is not Purpose.LOCATE or not _debtor_unreachable(ctx):
        return block(
            "CN-P2",
            "A third party may be contacted only to locate an unreachable debtor (numbers "
            f"invalid, or the last {n} attempts to the debtor all failed), with purpose locate.",
            f"仅在债务人失联（号码无效或最近 {n} 次联系均失败）时方可联系第三方，"
            "且目的须为查找下落。",
        )
    wait = _third_party_wait(ctx)
    if wait is None:
        return None
    day = ctx.pack.int_("CN-P2", "max_per_third_party_per_day")
    week = ctx.pack.int_("CN-P2", "max_per_third_party_per_week")
    return block(
        "CN-P2",
        f"This third party was already contacted as often as allowed (≤ {day} per day, "
        f"≤ {week} per 7 days).",
        f"该第三方的联系次数已达上限（每日 ≤ {day} 次，7 日内 ≤ {week} 次）。",
        wait.until,
    )


CN_RULES: tuple[Callable[[Ctx], Finding | None], ...] = (
    t1,
    t2,
    f1,
    f2,
    f3,
    p1,
    p2,
    h1,
    h2,
    x1,
    x2,
    r1,
    r2,
    v1,
    o1,
    c1,
)
