"""Pack CN, continued: holds (H), content (X), records and letters (R), visits (V),
outsourcing (O) and credit reports (C)."""

from __future__ import annotations

from datetime import timedelta

from arrears.domain.compliance.context import Ctx, Finding, Wait, block, terms
from arrears.domain.compliance.documents import check_letter
from arrears.domain.compliance.lexicon import X1_CATEGORIES
from arrears.domain.compliance.model import (
    CONTACT_CHANNELS,
    ActorKind,
    Channel,
    Duty,
    EventKind,
    Purpose,
)

__all__ = ["c1", "h1", "h2", "o1", "r1", "r2", "v1", "x1", "x2"]


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
