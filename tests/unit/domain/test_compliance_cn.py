"""Pack CN, rule by rule, with boundary times in the target's zone (domain/compliance)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

import pytest

from arrears.domain.compliance import (
    Actor,
    ActorKind,
    Attempt,
    Channel,
    ClockWindow,
    Decision,
    EventKind,
    HistoryEntry,
    Outcome,
    Pack,
    PastAttempt,
    Purpose,
    StateEvent,
    Target,
    TargetKind,
    cn_pack,
    decide,
)
from arrears.domain.compliance.documents import LETTER_FIELDS

PHONE = "+8613800000001"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def target(
    kind: TargetKind = TargetKind.BORROWER,
    address: str = PHONE,
    tz: str | None = "Asia/Shanghai",
    relation: str | None = None,
) -> Target:
    return Target(kind, address, relation, tz)


def attempt(
    when: str,
    channel: Channel = Channel.SMS,
    purpose: Purpose = Purpose.REMINDER,
    tgt: Target | None = None,
    **kw: Any,
) -> Attempt:
    actor = kw.pop("actor", Actor(ActorKind.COLLECTOR, "c1"))
    return Attempt("CN", channel, purpose, tgt or target(), ts(when), actor, **kw)


def past(
    when: str,
    channel: Channel = Channel.CALL,
    outcome: Outcome = Outcome.UNANSWERED,
    tgt: Target | None = None,
    purpose: Purpose | None = None,
    actor: Actor | None = None,
) -> PastAttempt:
    return PastAttempt(
        channel, tgt or target(), ts(when), outcome, actor or Actor(ActorKind.SYSTEM), purpose
    )


def ev(kind: EventKind, when: str, **kw: Any) -> StateEvent:
    return StateEvent(kind, ts(when), **kw)


def run(a: Attempt, history: Sequence[HistoryEntry] = (), pack: Pack | None = None) -> Decision:
    return decide(a, history, pack or cn_pack())


# --- CN-T1 quiet hours -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "allowed"),
    [("21:59", True), ("22:00", False), ("03:00", False), ("07:59", False), ("08:00", True)],
)
def test_t1_quiet_hours_are_half_open(local: str, allowed: bool) -> None:
    d = run(attempt(f"2026-11-28T{local}:00+08:00"))
    assert d.allowed is allowed
    assert ("CN-T1" in d.blocked_by) is not allowed


def test_t1_is_judged_in_the_targets_zone_not_the_offset_given() -> None:
    # 23:00 in Shanghai is 15:00 UTC: quiet, although 15:00 looks like daytime.
    d = run(attempt("2026-11-28T15:00:00+00:00"))
    assert d.blocked_by == ("CN-T1",)
    assert d.next_allowed_at == ts("2026-11-29T08:00:00+08:00")
    # A target in Urumqi's zone (UTC+6): 07:30 there is 09:30 in Shanghai.
    d = run(attempt("2026-11-28T09:30:00+08:00", tgt=target(tz="Asia/Urumqi")))
    assert d.blocked_by == ("CN-T1",)
    assert d.next_allowed_at == ts("2026-11-28T08:00:00+06:00")


def test_t1_next_allowed_at_is_the_end_of_quiet_hours_and_one_second_before_is_blocked() -> None:
    d = run(attempt("2026-11-28T22:00:00+08:00"))
    assert d.next_allowed_at == ts("2026-11-29T08:00:00+08:00")
    assert not run(attempt("2026-11-29T07:59:59+08:00")).allowed
    assert run(attempt("2026-11-29T08:00:00+08:00")).allowed


def test_t1_consent_covers_quiet_hours_for_its_channels_only() -> None:
    consent = ev(
        EventKind.CONSENT,
        "2026-11-01T10:00:00+08:00",
        scope=(Channel.CALL,),
        window=ClockWindow(time(22), time(23)),
    )
    assert run(attempt("2026-11-28T22:30:00+08:00", Channel.CALL), [consent]).allowed
    assert not run(attempt("2026-11-28T23:00:00+08:00", Channel.CALL), [consent]).allowed
    assert not run(attempt("2026-11-28T22:30:00+08:00", Channel.SMS), [consent]).allowed
    # after the consent window, the next passing instant is the end of quiet hours
    d = run(attempt("2026-11-28T23:30:00+08:00", Channel.CALL), [consent])
    assert d.next_allowed_at == ts("2026-11-29T08:00:00+08:00")
    withdrawn = ev(EventKind.CONSENT_WITHDRAWN, "2026-11-20T10:00:00+08:00")
    assert not run(attempt("2026-11-28T22:30:00+08:00", Channel.CALL), [withdrawn, consent]).allowed


def test_t1_missing_or_unknown_timezone_falls_back_to_shanghai_and_says_so() -> None:
    for tz in (None, "Mars/Olympus_Mons"):
        d = run(attempt("2026-11-28T14:30:00+00:00", tgt=target(tz=tz)))  # 22:30 in Shanghai
        assert d.blocked_by == ("CN-T1",)
        assert "Asia/Shanghai" in d.reasons["en"]
        assert "unknown" in d.reasons["en"]
        assert "时区未知" in d.reasons["zh-CN"]


# --- CN-T2 visiting hours and CN-V1 / CN-R1 duties --------------------------------------------


@pytest.mark.parametrize(
    ("local", "allowed"), [("07:59", False), ("08:00", True), ("19:59", True), ("20:00", False)]
)
def test_t2_visits_only_in_visiting_hours(local: str, allowed: bool) -> None:
    d = run(attempt(f"2026-11-28T{local}:00+08:00", Channel.VISIT, Purpose.COLLECTION))
    assert d.allowed is allowed
    assert ("CN-T2" in d.blocked_by) is not allowed
    assert {"CN-V1", "CN-R1"} <= set(d.rules)
    assert {x.code for x in d.duties} >= {"two_staff", "show_identification", "record_visit"}


def test_v1_a_visit_by_one_person_is_blocked() -> None:
    a = attempt("2026-11-28T10:00:00+08:00", Channel.VISIT, Purpose.COLLECTION, staff=("f1",))
    d = run(a)
    assert d.blocked_by == ("CN-V1",)
    assert d.next_allowed_at is None
    two = attempt(
        "2026-11-28T10:00:00+08:00", Channel.VISIT, Purpose.COLLECTION, staff=("f1", "f2")
    )
    assert run(two).allowed


def test_r1_calls_carry_the_recording_duty() -> None:
    d = run(attempt("2026-11-28T10:00:00+08:00", Channel.CALL, Purpose.COLLECTION))
    assert d.allowed
    assert d.rules == ("CN-R1",)
    assert [x.code for x in d.duties] == ["record_call"]


# --- CN-F1 / F2 / F3 daily counts ---------------------------------------------------------------


def test_f1_six_unanswered_calls_to_a_number_end_its_day() -> None:
    calls = [past(f"2026-11-28T09:0{i}:00+08:00") for i in range(6)]
    d = run(attempt("2026-11-28T12:00:00+08:00", Channel.CALL, Purpose.COLLECTION), calls)
    assert d.blocked_by == ("CN-F1",)
    # the next local day starts at 00:00, in quiet hours: 08:00 is the first passing instant
    assert d.next_allowed_at == ts("2026-11-29T08:00:00+08:00")
    assert run(
        attempt("2026-11-28T12:00:00+08:00", Channel.CALL, Purpose.COLLECTION), calls[:5]
    ).allowed
    other = target(address="+8613800000002")
    assert run(attempt("2026-11-28T12:00:00+08:00", Channel.CALL, tgt=other), calls).allowed


def test_f1_counts_by_the_targets_local_day_not_utc() -> None:
    # 00:30 in Shanghai on the 28th is 16:30 UTC on the 27th: same local day as the attempt.
    early = [past(f"2026-11-28T00:3{i}:00+08:00") for i in range(6)]
    assert not run(attempt("2026-11-28T12:00:00+08:00", Channel.CALL), early).allowed
    # 23:30 on the 27th local is 15:30 UTC on the 27th: the day before.
    late = [past(f"2026-11-27T23:3{i}:00+08:00") for i in range(6)]
    assert run(attempt("2026-11-28T12:00:00+08:00", Channel.CALL), late).allowed
    # an attempt at 08:00 local the next morning is a new day for the same six
    assert run(attempt("2026-11-29T08:00:00+08:00", Channel.CALL), early).allowed


def test_f2_counts_answered_calls_of_the_lender_and_its_agencies_together() -> None:
    agency = Actor(ActorKind.AGENCY, "a1", "Acme")
    calls = [
        past("2026-11-28T09:00:00+08:00", outcome=Outcome.ANSWERED),
        past("2026-11-28T10:00:00+08:00", outcome=Outcome.ANSWERED, actor=agency),
        past("2026-11-28T11:00:00+08:00", outcome=Outcome.ANSWERED, purpose=Purpose.COLLECTION),
    ]
    a = attempt("2026-11-28T15:00:00+08:00", Channel.CALL, Purpose.COLLECTION)
    d = run(a, calls)
    assert d.blocked_by == ("CN-F2",)
    assert d.next_allowed_at == ts("2026-11-29T08:00:00+08:00")
    assert run(a, calls[:2]).allowed
    notice = past("2026-11-28T11:00:00+08:00", outcome=Outcome.ANSWERED, purpose=Purpose.NOTICE)
    assert run(a, [*calls[:2], notice]).allowed


def test_f3_three_automated_messages_a_day() -> None:
    sent = [
        past("2026-11-28T09:00:00+08:00", Channel.SMS, Outcome.DELIVERED),
        past("2026-11-28T09:10:00+08:00", Channel.PUSH, Outcome.DELIVERED),
        past("2026-11-28T09:20:00+08:00", Channel.EMAIL, Outcome.BOUNCED),
    ]
    d = run(attempt("2026-11-28T12:00:00+08:00", Channel.SMS), sent)
    assert d.blocked_by == ("CN-F3",)
    assert run(attempt("2026-11-28T12:00:00+08:00", Channel.CALL), sent).allowed


# --- CN-P1 / CN-P2 third parties --------------------------------------------------------------

MOTHER = target(TargetKind.THIRD_PARTY, "+8613900000009", relation="mother")
FAILED3 = [past(f"2026-11-2{d}T10:00:00+08:00", outcome=Outcome.FAILED) for d in (5, 6, 7)]


def test_p1_a_third_party_is_never_asked_to_pay() -> None:
    d = run(attempt("2026-11-28T10:00:00+08:00", Channel.CALL, Purpose.COLLECTION, MOTHER), FAILED3)
    assert set(d.blocked_by) == {"CN-P1", "CN-P2"}
    assert d.next_allowed_at is None


def test_p1_the_debt_is_never_disclosed_to_a_third_party() -> None:
    a = attempt(
        "2026-11-28T10:00:00+08:00", Channel.SMS, Purpose.LOCATE, MOTHER, text="您儿子欠款未还"
    )
    d = run(a, FAILED3)
    assert d.blocked_by == ("CN-P1",)
    assert "欠款" in d.reasons["zh-CN"]


def test_p2_locate_only_after_n_failed_attempts_or_invalid_numbers() -> None:
    a = attempt("2026-11-28T10:00:00+08:00", Channel.CALL, Purpose.LOCATE, MOTHER)
    assert run(a).blocked_by == ("CN-P2",)
    assert run(a, FAILED3[1:]).blocked_by == ("CN-P2",)
    d = run(a, FAILED3)
    assert d.allowed
    assert "CN-P1" in d.rules
    assert [x.code for x in d.duties] == ["no_debt_disclosure", "record_call"]
    answered = past("2026-11-27T12:00:00+08:00", outcome=Outcome.ANSWERED)
    assert not run(a, [*FAILED3, answered]).allowed
    assert run(a, [ev(EventKind.NUMBERS_INVALID, "2026-11-20T00:00:00+08:00")]).allowed


def test_p2_a_third_party_at_most_once_a_day_and_three_times_a_week() -> None:
    a = attempt("2026-11-28T10:00:00+08:00", Channel.CALL, Purpose.LOCATE, MOTHER)
    today = past("2026-11-28T09:00:00+08:00", tgt=MOTHER, outcome=Outcome.ANSWERED)
    d = run(a, [*FAILED3, today])
    assert d.blocked_by == ("CN-P2",)
    assert d.next_allowed_at == ts("2026-11-29T08:00:00+08:00")
    week = [past(f"2026-11-{d}T09:00:00+08:00", tgt=MOTHER) for d in (22, 24, 26)]
    d = run(a, [*FAILED3, *week])
    assert d.blocked_by == ("CN-P2",)
    # days 22..28 hold three; from the 29th the window 23..29 holds two
    assert d.next_allowed_at == ts("2026-11-29T08:00:00+08:00")
    assert run(
        attempt("2026-11-29T08:00:00+08:00", Channel.CALL, Purpose.LOCATE, MOTHER),
        [*FAILED3, *week],
    ).allowed


def test_unknown_relation_is_an_unrelated_third_party() -> None:
    stranger = target(TargetKind.THIRD_PARTY, "+8613900000010", relation=None)
    d = run(attempt("2026-11-28T10:00:00+08:00", Channel.CALL, Purpose.LOCATE, stranger), FAILED3)
    assert d.allowed
    assert "unrelated third party" in d.reasons["en"]


# --- CN-H1 / CN-H2 holds, CN-X2 ---------------------------------------------------------------


def test_h1_dispute_holds_collection_but_not_notices() -> None:
    opened = ev(EventKind.DISPUTE_OPENED, "2026-11-20T10:00:00+08:00")
    a = attempt("2026-11-28T10:00:00+08:00", Channel.CALL, Purpose.COLLECTION)
    d = run(a, [opened])
    assert d.blocked_by == ("CN-H1",)
    assert d.next_allowed_at is None
    assert run(
        attempt("2026-11-28T10:00:00+08:00", Channel.LETTER, Purpose.NOTICE), [opened]
    ).allowed
    closed = ev(EventKind.DISPUTE_CLOSED, "2026-11-25T10:00:00+08:00")
    assert run(a, [closed, opened]).allowed
    complaint = ev(EventKind.COMPLAINT_OPENED, "2026-11-26T10:00:00+08:00")
    assert run(a, [complaint]).blocked_by == ("CN-H1",)


def test_h2_cease_opt_out_and_hardship() -> None:
    a = attempt("2026-11-28T10:00:00+08:00", Channel.SMS)
    cease = ev(EventKind.CEASE, "2026-11-20T10:00:00+08:00")
    assert run(a, [cease]).blocked_by == ("CN-H2",)
    assert run(a, [cease]).next_allowed_at is None
    sms_out = ev(EventKind.OPT_OUT, "2026-11-20T10:00:00+08:00", channel=Channel.SMS)
    assert run(a, [sms_out]).blocked_by == ("CN-H2",)
    assert run(attempt("2026-11-28T10:00:00+08:00", Channel.CALL), [sms_out]).allowed
    number_out = ev(EventKind.OPT_OUT, "2026-11-20T10:00:00+08:00", address=PHONE)
    assert run(attempt("2026-11-28T10:00:00+08:00", Channel.CALL), [number_out]).blocked_by == (
        "CN-H2",
    )
    pause = ev(
        EventKind.HARDSHIP_PAUSE, "2026-11-20T10:00:00+08:00", until=ts("2026-12-01T09:30:00+08:00")
    )
    d = run(a, [pause])
    assert d.blocked_by == ("CN-H2",)
    assert d.next_allowed_at == ts("2026-12-01T09:30:00+08:00")
    ended = ev(EventKind.HARDSHIP_END, "2026-11-25T10:00:00+08:00")
    assert run(a, [pause, ended]).allowed


def test_x2_an_illegal_debt_is_never_collected() -> None:
    mark = ev(EventKind.ILLEGAL_DEBT, "2026-11-01T10:00:00+08:00")
    d = run(attempt("2026-11-28T10:00:00+08:00", Channel.SMS), [mark])
    assert d.blocked_by == ("CN-X2",)
    assert d.next_allowed_at is None
    assert run(attempt("2026-11-28T10:00:00+08:00", Channel.LETTER, Purpose.NOTICE), [mark]).allowed


# --- CN-X1 content, CN-R2 letters, CN-O1 agencies, CN-C1 credit reports -----------------------


@pytest.mark.parametrize(
    "text",
    [
        "你这个老赖",
        "再不还就爆通讯录",
        "我们是法院的",
        "挂到网上让大家看",
        "ＰＯＬＩＣＥ will come",
        "we will KILL YOU",
    ],
)
def test_x1_screens_the_message_text(text: str) -> None:
    d = run(attempt("2026-11-28T10:00:00+08:00", Channel.SMS, text=text))
    assert d.blocked_by == ("CN-X1",)
    assert "zh-en-2026.1" in d.reasons["en"]


def test_x1_clean_text_passes() -> None:
    assert run(
        attempt("2026-11-28T10:00:00+08:00", Channel.SMS, text="您的账单已到期，请及时处理。")
    ).allowed


def test_r2_letter_content() -> None:
    full = {f: "x" for f in LETTER_FIELDS} | {"amount_owed": "1234.56"}
    ok = run(attempt("2026-11-28T10:00:00+08:00", Channel.LETTER, Purpose.COLLECTION, letter=full))
    assert ok.allowed
    assert "CN-R2" in ok.rules
    short = {k: v for k, v in full.items() if k not in ("seal", "how_to_object")}
    d = run(attempt("2026-11-28T10:00:00+08:00", Channel.LETTER, Purpose.COLLECTION, letter=short))
    assert d.blocked_by == ("CN-R2",)
    assert "seal" in d.reasons["en"]
    assert "how_to_object" in d.reasons["en"]


def test_o1_agencies_need_the_white_list_and_a_notice_to_the_debtor() -> None:
    acme = Actor(ActorKind.AGENCY, "a7", "Acme")
    a = attempt("2026-11-28T10:00:00+08:00", Channel.CALL, Purpose.COLLECTION, actor=acme)
    told = ev(EventKind.AGENCY_NOTICE, "2026-11-20T10:00:00+08:00", agency="Acme")
    assert run(a, [told]).blocked_by == ("CN-O1",)
    listed = cn_pack().with_parameters({"CN-O1": {"agencies": frozenset({"Acme"})}})
    assert run(a, [], listed).blocked_by == ("CN-O1",)
    assert run(a, [told], listed).allowed


def test_c1_credit_report_needs_a_notice_seven_days_ahead() -> None:
    a = attempt("2026-11-28T10:00:00+08:00", Channel.CREDIT_REPORT, Purpose.NOTICE)
    d = run(a)
    assert d.blocked_by == ("CN-C1",)
    assert d.next_allowed_at is None
    notice = ev(EventKind.CREDIT_NOTICE_SENT, "2026-11-25T09:00:00+08:00")
    d = run(a, [notice])
    assert d.next_allowed_at == ts("2026-12-02T09:00:00+08:00")
    late = attempt("2026-12-02T09:00:00+08:00", Channel.CREDIT_REPORT, Purpose.NOTICE)
    d = run(late, [notice])
    assert d.allowed
    assert [x.code for x in d.duties] == ["answer_disputes"]


# --- every blocking rule is listed ---------------------------------------------------------------


def test_an_attempt_breaking_three_rules_lists_all_three() -> None:
    a = attempt("2026-11-28T23:00:00+08:00", Channel.SMS, text="老赖")
    d = run(a, [ev(EventKind.DISPUTE_OPENED, "2026-11-20T10:00:00+08:00")])
    assert set(d.blocked_by) == {"CN-T1", "CN-X1", "CN-H1"}
    assert d.next_allowed_at is None
    assert len(d.reasons["en"].split(". ")) >= 3


def test_decision_json_shape() -> None:
    out = run(attempt("2026-11-28T23:00:00+08:00", Channel.SMS)).to_json()
    assert set(out) >= {"allowed", "rules", "reasons", "next_allowed_at", "duties", "pack"}
    assert out["pack"] == {
        "id": "CN",
        "version": "1",
        "overridden": False,
        "overrides": {},
        "approvals": [],
    }
    assert out["next_allowed_at"] == "2026-11-29T00:00:00+00:00"
    assert set(out["reasons"]) == {"zh-CN", "en"}  # type: ignore[arg-type]


def test_history_after_the_attempt_is_not_yet_known() -> None:
    later = ev(EventKind.CEASE, "2026-11-28T10:00:01+08:00")
    assert run(attempt("2026-11-28T10:00:00+08:00"), [later]).allowed


def test_a_past_day_does_not_leak_into_the_next() -> None:
    calls = [past("2026-11-27T21:00:00+08:00", outcome=Outcome.ANSWERED) for _ in range(3)]
    assert run(
        attempt("2026-11-28T08:00:00+08:00", Channel.CALL, Purpose.COLLECTION), calls
    ).allowed
