"""Pack CN: one function per rule, each returning a blocking Finding, a duty, or None."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from arrears.domain.compliance.clock import day_start, local_day, rolling_free_day
from arrears.domain.compliance.context import Ctx, Finding, Wait, block, per_zone, terms
from arrears.domain.compliance.documents import check_letter
from arrears.domain.compliance.lexicon import X1_CATEGORIES, Category
from arrears.domain.compliance.model import (
    AUTOMATED_CHANNELS,
    CONTACT_CHANNELS,
    NOT_REACHED,
    ActorKind,
    Channel,
    ClockWindow,
    Duty,
    EventKind,
    Outcome,
    PastAttempt,
    Purpose,
    TargetKind,
)
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


def h1(ctx: Ctx) -> Finding | None:
    if ctx.channel not in CONTACT_CHANNELS or ctx.attempt.purpose is Purpose.NOTICE:
        return None
    disputed = ctx.is_open(EventKind.DISPUTE_OPENED, EventKind.DISPUTE_CLOSED)
    complained = ctx.is_open(EventKind.COMPLAINT_OPENED, EventKind.COMPLAINT_CLOSED)
    if not (disputed or complained):
        return None
    return block(
        "CN-H1",
        "The account has an open dispute or complaint: no collection contact until it is "
        "closed (notices and answers to the debtor are allowed).",
        "账户存在未结的争议或投诉：结案前不得催收联系（可发送通知或答复债务人）。",
    )


def h2(ctx: Ctx) -> Finding | None:
    if ctx.channel not in CONTACT_CHANNELS:
        return None
    statutory = ctx.attempt.purpose is Purpose.NOTICE
    grounds_en: list[str] = []
    grounds_zh: list[str] = []
    waits: list[Wait] = []
    if ctx.has(EventKind.CEASE) and not (statutory and ctx.channel is Channel.LETTER):
        grounds_en.append("the debtor asked to cease contact")
        grounds_zh.append("债务人已要求停止联系")
        waits.append(Wait(None))
    if ctx.opted_out():
        grounds_en.append(f"this channel or address ({ctx.channel}) is on do-not-contact")
        grounds_zh.append(f"该渠道或地址（{ctx.channel}）已列入勿扰")
        waits.append(Wait(None))
    pause = _hardship(ctx)
    if pause is not None and not statutory:
        grounds_en.append("a hardship pause is in force")
        grounds_zh.append("困难暂停期生效中")
        waits.append(pause)
    if not waits:
        return None
    untils = [w.until for w in waits]
    retry = None if any(u is None for u in untils) else max(u for u in untils if u)
    return block(
        "CN-H2",
        f"Contact is held: {'; '.join(grounds_en)}.",
        f"联系已暂停：{'；'.join(grounds_zh)}。",
        retry,
    )


def _hardship(ctx: Ctx) -> Wait | None:
    last = ctx.of(EventKind.HARDSHIP_PAUSE, EventKind.HARDSHIP_END)
    if not last or last[-1].kind is EventKind.HARDSHIP_END:
        return None
    until = last[-1].until
    if until is not None and until <= ctx.at:
        return None
    return Wait(until)


def x1(ctx: Ctx) -> Finding | None:
    found = ctx.hits(*X1_CATEGORIES)
    if not found:
        return None
    cats = ", ".join(sorted({h.category.value for h in found}))
    return block(
        "CN-X1",
        f"The message contains forbidden content ({cats}: {terms(found)}; lexicon "
        f"{ctx.lexicon.version}).",
        f"消息含禁用内容（{cats}：{terms(found)}；词库 {ctx.lexicon.version}）。",
    )


def x2(ctx: Ctx) -> Finding | None:
    if not ctx.has(EventKind.ILLEGAL_DEBT) or ctx.attempt.purpose is Purpose.NOTICE:
        return None
    return block(
        "CN-X2",
        "The debt is marked illegal (e.g. usurious) and is never collected.",
        "该债务已标记为非法（如高利贷），不得催收。",
    )


def r1(ctx: Ctx) -> Finding | None:
    if ctx.channel not in (Channel.CALL, Channel.VISIT):
        return None
    if not ctx.pack.value("CN-R1", "recording"):
        return None
    years = ctx.pack.int_("CN-R1", "retention_years")
    what_en, what_zh = ("call", "通话") if ctx.channel is Channel.CALL else ("visit", "上门过程")
    duty = Duty(
        "CN-R1",
        f"record_{what_en}",
        f"Record the {what_en}; keep the recording {years} years, then purge it.",
        f"全程录音录像{what_zh}，保存 {years} 年后删除。",
    )
    return Finding(
        "CN-R1",
        False,
        f"The {what_en} must be recorded and the recording kept {years} years.",
        f"{what_zh}须录音并保存 {years} 年。",
        duties=(duty,),
    )


def r2(ctx: Ctx) -> Finding | None:
    if ctx.channel is not Channel.LETTER or ctx.is_third_party:
        return None
    if ctx.attempt.letter is not None:
        missing = check_letter(ctx.attempt.letter)
        if missing:
            return block(
                "CN-R2",
                f"The collection letter lacks required content: {', '.join(missing)}.",
                f"催收函缺少必备内容：{'、'.join(missing)}。",
            )
    duty = Duty(
        "CN-R2",
        "letter_content",
        "Use a letter template that passed the CN-R2 content check.",
        "使用通过 CN-R2 内容检查的函件模板。",
    )
    return Finding(
        "CN-R2",
        False,
        "The letter must state name, amount, reason and legal basis, rights and duties, how "
        "to check and object, the lender's contact, and carry a seal.",
        "函件须载明姓名、欠款金额、事由及法律依据、权利义务、查询及异议方式、机构联系方式，并加盖公章。",
        duties=(duty,),
    )


def v1(ctx: Ctx) -> Finding | None:
    if ctx.channel is not Channel.VISIT:
        return None
    need = ctx.pack.int_("CN-V1", "min_staff")
    staff = ctx.attempt.staff
    if staff is not None and len(set(staff)) < need:
        return block(
            "CN-V1",
            f"A door visit needs at least {need} staff; {len(set(staff))} named.",
            f"上门催收须至少 {need} 名人员；当前仅 {len(set(staff))} 名。",
        )
    duties = [
        Duty(
            "CN-V1", "two_staff", f"At least {need} staff make the visit.", f"至少 {need} 人上门。"
        ),
        Duty("CN-V1", "show_identification", "Show identification.", "出示工作证件。"),
    ]
    if ctx.pack.value("CN-V1", "recording"):
        duties.append(Duty("CN-V1", "record_visit", "Record the visit.", "全程录音录像。"))
    return Finding(
        "CN-V1",
        False,
        f"The visit is made by at least {need} staff who show identification and record it.",
        f"上门须至少 {need} 人，出示证件并全程记录。",
        duties=tuple(duties),
    )


def o1(ctx: Ctx) -> Finding | None:
    actor = ctx.attempt.actor
    if actor.kind is not ActorKind.AGENCY:
        return None
    listed = actor.agency is not None and actor.agency in ctx.pack.names("CN-O1", "agencies")
    told = any(e.agency in (None, actor.agency) for e in ctx.of(EventKind.AGENCY_NOTICE))
    if listed and told:
        return None
    problems_en = [] if listed else [f"agency {actor.agency!r} is not on the white-list"]
    problems_zh = [] if listed else [f"机构 {actor.agency or '未知'} 不在白名单内"]
    if not told:
        problems_en.append("the debtor was not told of the assignment")
        problems_zh.append("未事先告知债务人委外")
    return block(
        "CN-O1",
        f"Agency contact not allowed: {'; '.join(problems_en)}.",
        f"不得由该机构联系：{'；'.join(problems_zh)}。",
    )


def c1(ctx: Ctx) -> Finding | None:
    if ctx.channel is not Channel.CREDIT_REPORT:
        return None
    lead = timedelta(days=ctx.pack.int_("CN-C1", "notice_lead_days"))
    answer = ctx.pack.int_("CN-C1", "dispute_answer_days")
    notices = ctx.of(EventKind.CREDIT_NOTICE_SENT)
    ready = notices[0].at + lead if notices else None
    if ready is None or ctx.at < ready:
        return block(
            "CN-C1",
            f"Adverse credit reporting needs a notice to the debtor logged at least {lead.days} "
            "days before.",
            f"报送不良信息前须至少提前 {lead.days} 日告知债务人并留痕。",
            ready,
        )
    duty = Duty(
        "CN-C1",
        "answer_disputes",
        f"Answer any dispute of the report within {answer} days.",
        f"对异议须在 {answer} 日内答复。",
    )
    return Finding(
        "CN-C1",
        False,
        f"Disputes of the report must be answered within {answer} days.",
        f"对报送信息的异议须在 {answer} 日内答复。",
        duties=(duty,),
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
