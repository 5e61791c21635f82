"""Pack US (Regulation F): one function per rule, each a blocking Finding, a duty, or None."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from arrears.domain.compliance.clock import day_start, local_day, rolling_free_day
from arrears.domain.compliance.context import Ctx, Finding, Wait, block, per_zone, terms
from arrears.domain.compliance.lexicon import Category
from arrears.domain.compliance.model import (
    CONTACT_CHANNELS,
    ELECTRONIC_CHANNELS,
    Channel,
    ClockWindow,
    Duty,
    EventKind,
    Outcome,
    Purpose,
    StateEvent,
    TargetKind,
)
from arrears.domain.compliance.windows import outside_hours

__all__ = ["US_RULES"]

CONSUMER = frozenset({TargetKind.BORROWER, TargetKind.GUARANTOR})


def t1(ctx: Ctx) -> Finding | None:
    if ctx.channel not in CONTACT_CHANNELS:
        return None
    allowed = ctx.pack.window("US-T1", "permitted_hours")
    wait = outside_hours(ctx, allowed, ctx.consent_windows())
    if wait is None:
        return None
    quiet = ClockWindow(allowed.end, allowed.start)
    return block(
        "US-T1",
        f"No communication between {quiet} at the consumer's location without the "
        "consumer's consent.",
        f"未经消费者同意，不得在其所在地时间 {quiet} 之间联系。",
        wait.until,
    )


def _f1_wait(ctx: Ctx, zone: ZoneInfo) -> Wait | None:
    kind = ctx.attempt.target.kind
    limit = ctx.pack.int_("US-F1", "max_calls_in_window")
    span = ctx.pack.int_("US-F1", "window_days")
    quiet_days = ctx.pack.int_("US-F1", "days_after_conversation")
    calls = [a for a in ctx.attempts if a.channel is Channel.CALL and a.target.kind is kind]
    today = local_day(ctx.at, zone)
    free = rolling_free_day([local_day(a.at, zone) for a in calls], today, limit, span)
    if free is None:
        return Wait(None)
    talks = [local_day(a.at, zone) for a in calls if a.outcome is Outcome.ANSWERED]
    if talks:
        free = max(free, max(talks) + timedelta(days=quiet_days))
    return None if free <= today else Wait(day_start(free, zone))


def f1(ctx: Ctx) -> Finding | None:
    if ctx.channel is not Channel.CALL or ctx.attempt.target.kind not in CONSUMER:
        return None
    wait = per_zone(ctx, lambda zone: _f1_wait(ctx, zone))
    if wait is None:
        return None
    limit = ctx.pack.int_("US-F1", "max_calls_in_window")
    span = ctx.pack.int_("US-F1", "window_days")
    quiet = ctx.pack.int_("US-F1", "days_after_conversation")
    return block(
        "US-F1",
        f"Call frequency: at most {limit} call attempts in {span} consecutive days, and no call "
        f"within {quiet} days after a telephone conversation (its day is day 1).",
        f"通话频率：{span} 个连续日内最多 {limit} 次呼叫，"
        f"电话交谈后 {quiet} 日内（交谈当日为第 1 日）不得再呼叫。",
        wait.until,
    )


def f2(ctx: Ctx) -> Finding | None:
    if ctx.channel not in CONTACT_CHANNELS:
        return None
    ceased = ctx.has(EventKind.CEASE)
    if ceased and ctx.attempt.purpose is Purpose.NOTICE and ctx.channel is Channel.LETTER:
        ceased = False
    if not (ceased or ctx.opted_out()):
        return None
    what = "all communication" if ceased else f"this medium or address ({ctx.channel})"
    what_zh = "一切联系" if ceased else f"该渠道或地址（{ctx.channel}）"
    return block(
        "US-F2",
        f"The person asked that {what} not be used.",
        f"当事人已要求不得使用{what_zh}。",
    )


def e1(ctx: Ctx) -> Finding | None:
    if ctx.channel not in ELECTRONIC_CHANNELS:
        return None
    if ctx.opted_out():
        return block(
            "US-E1",
            "The person opted out of electronic messages at this address.",
            "当事人已退订该地址的电子消息。",
        )
    if ctx.attempt.text is not None and not ctx.hits(Category.OPT_OUT):
        return block(
            "US-E1",
            "The message text carries no simple opt-out instruction.",
            "消息正文未包含简便的退订方式。",
        )
    duty = Duty("US-E1", "include_opt_out", "Include a simple opt-out.", "附上简便退订方式。")
    return Finding(
        "US-E1",
        False,
        "Every email and text carries a simple opt-out.",
        "每封邮件和短信须附简便退订方式。",
        duties=(duty,),
    )


def v1(ctx: Ctx) -> Finding | None:
    if ctx.attempt.target.kind is not TargetKind.BORROWER or ctx.channel not in CONTACT_CHANNELS:
        return None
    if ctx.has(EventKind.VALIDATION_NOTICE_SENT):
        return None
    days = ctx.pack.int_("US-V1", "days_after_initial")
    reached = [
        a
        for a in ctx.to_kind(TargetKind.BORROWER)
        if a.outcome in (Outcome.ANSWERED, Outcome.DELIVERED)
    ]

    def check(zone: ZoneInfo) -> Wait | None:
        first = local_day(reached[0].at, zone)
        return Wait(None) if local_day(ctx.at, zone) > first + timedelta(days=days) else None

    if reached and ctx.attempt.purpose is not Purpose.NOTICE and per_zone(ctx, check):
        return block(
            "US-V1",
            f"No validation notice was sent within {days} days after the initial communication.",
            f"首次联系后 {days} 日内未发送债务确认通知。",
        )
    duty = Duty(
        "US-V1",
        "send_validation_notice",
        f"Send the validation notice with, or within {days} days after, the initial communication.",
        f"须随首次联系或在其后 {days} 日内发送债务确认通知。",
    )
    return Finding(
        "US-V1",
        False,
        f"A validation notice is due within {days} days after the initial communication.",
        f"须在首次联系后 {days} 日内发送债务确认通知。",
        duties=(duty,),
    )


def w1(ctx: Ctx) -> Finding | None:
    if ctx.channel not in CONTACT_CHANNELS:
        return None
    target = ctx.attempt.target
    forbids = ctx.of(EventKind.EMPLOYER_FORBIDS)
    if not any(
        (e.address is None and target.workplace) or e.address == target.address for e in forbids
    ):
        return None
    return block(
        "US-W1",
        "The employer forbids the consumer receiving such communications at work.",
        "消费者雇主禁止其在工作场所接收此类联系。",
    )


def p3(ctx: Ctx) -> Finding | None:
    if not ctx.is_third_party or ctx.channel not in CONTACT_CHANNELS:
        return None
    limit = ctx.pack.int_("US-3P", "max_contacts_per_person")
    address = ctx.attempt.target.address
    before = [a for a in ctx.to_kind(TargetKind.THIRD_PARTY) if a.target.address == address]
    mentioned = ctx.hits(Category.DEBT_MENTION)
    problems_en: list[str] = []
    problems_zh: list[str] = []
    if ctx.attempt.purpose is not Purpose.LOCATE:
        problems_en.append("the purpose is not location information")
        problems_zh.append("目的并非获取位置信息")
    if mentioned:
        problems_en.append(f"the text mentions the debt ({terms(mentioned)})")
        problems_zh.append(f"文本提及债务（{terms(mentioned)}）")
    if len(before) >= limit:
        problems_en.append(f"this person was already contacted {len(before)} time(s)")
        problems_zh.append(f"已联系此人 {len(before)} 次")
    relation = ctx.attempt.target.relation or "unrelated"
    if problems_en:
        return block(
            "US-3P",
            f"Third party ({relation}) only for location information, without mentioning the "
            f"debt, at most {limit} time(s): {'; '.join(problems_en)}.",
            f"第三方（{relation}）仅可用于获取位置信息，不得提及债务，至多 {limit} 次："
            f"{'；'.join(problems_zh)}。",
        )
    duty = Duty("US-3P", "no_debt_mention", "Do not mention the debt.", "不得提及债务。")
    return Finding(
        "US-3P",
        False,
        "Ask only for location information and do not mention the debt.",
        "仅询问位置信息，不得提及债务。",
        duties=(duty,),
    )


def b1(ctx: Ctx) -> Finding | None:
    if not ctx.has(EventKind.TIME_BARRED) or ctx.channel not in CONTACT_CHANNELS:
        return None
    suit = ctx.hits(Category.SUIT)
    if suit:
        return block(
            "US-B1",
            f"The debt is time-barred: no suit or threat of suit ({terms(suit)}).",
            f"该债务已过诉讼时效：不得起诉或以起诉相威胁（{terms(suit)}）。",
        )
    duty = Duty("US-B1", "no_suit_threat", "Do not sue or threaten suit.", "不得起诉或威胁起诉。")
    return Finding(
        "US-B1",
        False,
        "The debt is time-barred: do not sue or threaten suit.",
        "该债务已过诉讼时效：不得起诉或以起诉相威胁。",
        duties=(duty,),
    )


def c1(ctx: Ctx) -> Finding | None:
    if ctx.channel is not Channel.CREDIT_REPORT:
        return None
    spoke = any(
        a.outcome is Outcome.ANSWERED and a.channel in (Channel.CALL, Channel.VISIT)
        for a in ctx.to_kind(TargetKind.BORROWER)
    )
    if spoke:
        return None
    wait = timedelta(days=ctx.pack.int_("US-C1", "wait_days"))
    valid: list[StateEvent] = []
    for e in ctx.of(EventKind.CREDIT_NOTICE_SENT, EventKind.CREDIT_NOTICE_RETURNED):
        valid = [] if e.kind is EventKind.CREDIT_NOTICE_RETURNED else [*valid, e]
    ready = valid[0].at + wait if valid else None
    if ready is not None and ready <= ctx.at:
        return None
    return block(
        "US-C1",
        "Before furnishing, speak to the consumer or send a notice and wait "
        f"{wait.days} days for it to come back undeliverable.",
        f"报送前须与消费者通话，或发出通知并等待 {wait.days} 日确认未被退回。",
        ready,
    )


US_RULES: tuple[Callable[[Ctx], Finding | None], ...] = (t1, f1, f2, e1, v1, w1, p3, b1, c1)
