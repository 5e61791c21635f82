"""Pack US (Regulation F), rule by rule, with DST changes and unknown zones."""

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
    PastAttempt,
    Purpose,
    StateEvent,
    Target,
    TargetKind,
    decide,
    us_pack,
)

PHONE = "+13125550100"
NY = "America/New_York"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def target(
    kind: TargetKind = TargetKind.BORROWER,
    address: str = PHONE,
    tz: str | None = "America/Chicago",
    **kw: Any,
) -> Target:
    return Target(kind, address, timezone=tz, **kw)


def attempt(
    when: str,
    channel: Channel = Channel.CALL,
    purpose: Purpose = Purpose.COLLECTION,
    tgt: Target | None = None,
    **kw: Any,
) -> Attempt:
    actor = Actor(ActorKind.AGENCY, "x", "Acme")
    return Attempt("US", channel, purpose, tgt or target(), ts(when), actor, **kw)


def past(
    when: str,
    channel: Channel = Channel.CALL,
    outcome: Outcome = Outcome.UNANSWERED,
    tgt: Target | None = None,
) -> PastAttempt:
    return PastAttempt(channel, tgt or target(), ts(when), outcome, Actor(ActorKind.AGENCY))


def ev(kind: EventKind, when: str, **kw: Any) -> StateEvent:
    return StateEvent(kind, ts(when), **kw)


NOTICE = ev(EventKind.VALIDATION_NOTICE_SENT, "2026-01-01T12:00:00+00:00")
ALL_DAY = ev(EventKind.CONSENT, "2026-01-01T12:00:00+00:00", window=ClockWindow(time(0), time(0)))


def run(a: Attempt, history: Sequence[HistoryEntry] = ()) -> Decision:
    return decide(a, [NOTICE, *history], us_pack())


# --- US-T1 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "allowed"), [("07:59", False), ("08:00", True), ("20:59", True), ("21:00", False)]
)
def test_t1_eight_to_nine(local: str, allowed: bool) -> None:
    d = run(attempt(f"2026-06-10T{local}:00-05:00"))  # Chicago, CDT
    assert d.allowed is allowed
    assert ("US-T1" in d.blocked_by) is not allowed


def test_t1_at_the_spring_dst_change() -> None:
    # 2026-03-08: New York springs forward at 02:00 EST; 08:00 EDT is 12:00 UTC, not 13:00.
    d = run(attempt("2026-03-08T06:30:00-05:00", tgt=target(tz=NY)))
    assert d.next_allowed_at == ts("2026-03-08T12:00:00+00:00")
    assert not run(attempt("2026-03-08T11:59:59+00:00", tgt=target(tz=NY))).allowed
    assert run(attempt("2026-03-08T12:00:00+00:00", tgt=target(tz=NY))).allowed
    # from the evening before (EST), across the change
    d = run(attempt("2026-03-07T22:00:00-05:00", tgt=target(tz=NY)))
    assert d.next_allowed_at == ts("2026-03-08T12:00:00+00:00")


def test_t1_at_the_autumn_dst_change() -> None:
    # 2026-11-01: New York falls back at 02:00 EDT; 08:00 EST is 13:00 UTC.
    d = run(attempt("2026-11-01T12:30:00+00:00", tgt=target(tz=NY)))  # 07:30 EST
    assert d.blocked_by == ("US-T1",)
    assert d.next_allowed_at == ts("2026-11-01T13:00:00+00:00")


@pytest.mark.parametrize(
    ("utc", "allowed"),
    [
        ("2026-07-01T17:59:00", False),  # 07:59 in Honolulu
        ("2026-07-01T18:00:00", True),  # 08:00 in Honolulu, 14:00 in New York
        ("2026-07-02T00:59:00", True),  # 20:59 EDT in New York
        ("2026-07-02T01:00:00", False),  # 21:00 EDT in New York
        ("2026-01-15T01:59:00", True),  # 20:59 EST in New York (winter)
        ("2026-01-15T02:00:00", False),
    ],
)
def test_t1_unknown_zone_must_pass_in_every_us_zone(utc: str, allowed: bool) -> None:
    d = run(attempt(f"{utc}+00:00", tgt=target(tz=None)))
    assert d.allowed is allowed
    assert "Pacific/Honolulu" in d.reasons["en"]
    assert "America/New_York" in d.reasons["en"]


def test_t1_unknown_zone_next_allowed_at_is_eight_in_honolulu() -> None:
    d = run(attempt("2026-07-02T01:00:00+00:00", tgt=target(tz=None)))
    assert d.next_allowed_at == ts("2026-07-02T18:00:00+00:00")


def test_t1_consent_covers_inconvenient_times() -> None:
    assert run(attempt("2026-06-10T23:00:00-05:00"), [ALL_DAY]).allowed


# --- US-F1 ----------------------------------------------------------------------------------------


def test_f1_seven_call_attempts_in_seven_days() -> None:
    calls = [past(f"2026-06-{d:02d}T10:00:00-05:00") for d in range(4, 11)]  # 4th..10th
    d = run(attempt("2026-06-10T15:00:00-05:00"), calls)
    assert d.blocked_by == ("US-F1",)
    assert d.next_allowed_at == ts("2026-06-11T08:00:00-05:00")  # the 4th drops out
    assert run(attempt("2026-06-10T15:00:00-05:00"), calls[1:]).allowed


def test_f1_no_call_within_seven_days_after_a_conversation() -> None:
    talk = past("2026-06-01T10:00:00-05:00", outcome=Outcome.ANSWERED)  # day 1
    d = run(attempt("2026-06-07T15:00:00-05:00"), [talk])  # day 7
    assert d.blocked_by == ("US-F1",)
    assert d.next_allowed_at == ts("2026-06-08T08:00:00-05:00")
    assert run(attempt("2026-06-08T08:00:00-05:00"), [talk]).allowed


def test_f1_day_boundary_across_spring_dst() -> None:
    talk = past("2026-03-01T10:00:00-05:00", outcome=Outcome.ANSWERED, tgt=target(tz=NY))
    # 23:30 EST on the 7th (day 7) is blocked; the 8th starts at 00:00 EST = 05:00 UTC
    d = run(attempt("2026-03-08T04:30:00+00:00", tgt=target(tz=NY)), [ALL_DAY, talk])
    assert d.blocked_by == ("US-F1",)
    assert d.next_allowed_at == ts("2026-03-08T05:00:00+00:00")
    # a conversation on the 2nd: the 9th starts at 00:00 EDT = 04:00 UTC
    talk2 = past("2026-03-02T10:00:00-05:00", outcome=Outcome.ANSWERED, tgt=target(tz=NY))
    d = run(attempt("2026-03-08T12:00:00+00:00", tgt=target(tz=NY)), [ALL_DAY, talk2])
    assert d.next_allowed_at == ts("2026-03-09T04:00:00+00:00")


# --- US-F2, US-E1 ---------------------------------------------------------------------------------


def test_f2_cease_and_opt_outs() -> None:
    cease = ev(EventKind.CEASE, "2026-06-01T10:00:00-05:00")
    d = run(attempt("2026-06-10T10:00:00-05:00"), [cease])
    assert d.blocked_by == ("US-F2",)
    assert d.next_allowed_at is None
    notice = attempt("2026-06-10T10:00:00-05:00", Channel.LETTER, Purpose.NOTICE)
    assert run(notice, [cease]).allowed
    out = ev(EventKind.OPT_OUT, "2026-06-01T10:00:00-05:00", channel=Channel.EMAIL, address="a@b.c")
    mail = attempt("2026-06-10T10:00:00-05:00", Channel.EMAIL, tgt=target(address="a@b.c"))
    assert set(run(mail, [out]).blocked_by) == {"US-E1", "US-F2"}
    other = attempt("2026-06-10T10:00:00-05:00", Channel.EMAIL, tgt=target(address="x@b.c"))
    assert run(other, [out]).allowed


def test_e1_texts_carry_an_opt_out() -> None:
    bare = attempt("2026-06-10T10:00:00-05:00", Channel.SMS, text="Your payment is due.")
    assert run(bare).blocked_by == ("US-E1",)
    ok = attempt(
        "2026-06-10T10:00:00-05:00", Channel.SMS, text="Payment due. Reply STOP to opt out."
    )
    d = run(ok)
    assert d.allowed
    assert [x.code for x in d.duties] == ["include_opt_out"]


# --- US-V1, US-W1, US-3P, US-B1, US-C1 ----------------------------------------------------------


def test_v1_validation_notice_within_five_days_of_the_initial_communication() -> None:
    first = past("2026-06-01T10:00:00-05:00", Channel.SMS, Outcome.DELIVERED)
    a5 = attempt("2026-06-06T10:00:00-05:00", Channel.SMS)
    a6 = attempt("2026-06-07T10:00:00-05:00", Channel.SMS)
    d = decide(a5, [first], us_pack())
    assert d.allowed
    assert "send_validation_notice" in [x.code for x in d.duties]
    d = decide(a6, [first], us_pack())
    assert d.blocked_by == ("US-V1",)
    assert d.next_allowed_at is None
    assert decide(a6, [first, NOTICE], us_pack()).allowed
    # no communication yet: this attempt is the initial one and carries the duty
    assert "US-V1" in decide(a6, [], us_pack()).rules


def test_w1_employer_forbids_workplace_contact() -> None:
    forbid = ev(EventKind.EMPLOYER_FORBIDS, "2026-06-01T10:00:00-05:00")
    work = target(address="+13125550199", workplace=True)
    assert run(attempt("2026-06-10T10:00:00-05:00", tgt=work), [forbid]).blocked_by == ("US-W1",)
    assert run(attempt("2026-06-10T10:00:00-05:00"), [forbid]).allowed
    by_number = ev(EventKind.EMPLOYER_FORBIDS, "2026-06-01T10:00:00-05:00", address=PHONE)
    assert run(attempt("2026-06-10T10:00:00-05:00"), [by_number]).blocked_by == ("US-W1",)


def test_3p_location_only_once_per_person_without_the_debt() -> None:
    neighbour = target(TargetKind.THIRD_PARTY, "+13125550111")
    a = attempt("2026-06-10T10:00:00-05:00", purpose=Purpose.LOCATE, tgt=neighbour)
    d = run(a)
    assert d.allowed
    assert "no_debt_mention" in [x.code for x in d.duties]
    assert "unrelated third party" in d.reasons["en"]
    before = past("2026-06-01T10:00:00-05:00", tgt=neighbour, outcome=Outcome.ANSWERED)
    d = run(a, [before])
    assert d.blocked_by == ("US-3P",)
    assert d.next_allowed_at is None
    pay = attempt("2026-06-10T10:00:00-05:00", purpose=Purpose.COLLECTION, tgt=neighbour)
    assert run(pay).blocked_by == ("US-3P",)
    said = attempt(
        "2026-06-10T10:00:00-05:00",
        Channel.SMS,
        Purpose.LOCATE,
        neighbour,
        text="About John's overdue debt. Reply STOP to opt out.",
    )
    assert run(said).blocked_by == ("US-3P",)


def test_b1_no_threat_of_suit_on_time_barred_debt() -> None:
    barred = ev(EventKind.TIME_BARRED, "2026-01-01T00:00:00+00:00")
    threat = attempt(
        "2026-06-10T10:00:00-05:00",
        Channel.SMS,
        text="Pay now or we will file a lawsuit. Reply STOP to opt out.",
    )
    assert run(threat, [barred]).blocked_by == ("US-B1",)
    d = run(attempt("2026-06-10T10:00:00-05:00"), [barred])
    assert d.allowed
    assert "no_suit_threat" in [x.code for x in d.duties]


def test_c1_furnishing_after_a_conversation_or_a_fourteen_day_wait() -> None:
    report = attempt("2026-06-20T10:00:00-05:00", Channel.CREDIT_REPORT, Purpose.NOTICE)
    assert run(report).blocked_by == ("US-C1",)
    assert run(report).next_allowed_at is None
    sent = ev(EventKind.CREDIT_NOTICE_SENT, "2026-06-10T09:00:00-05:00")
    d = run(report, [sent])
    assert d.blocked_by == ("US-C1",)
    assert d.next_allowed_at == ts("2026-06-24T09:00:00-05:00")
    returned = ev(EventKind.CREDIT_NOTICE_RETURNED, "2026-06-15T09:00:00-05:00")
    assert run(report, [sent, returned]).next_allowed_at is None
    talk = past("2026-06-01T10:00:00-05:00", outcome=Outcome.ANSWERED)
    assert run(report, [talk]).allowed


def test_us_breaking_three_rules_lists_all_three() -> None:
    barred = ev(EventKind.TIME_BARRED, "2026-01-01T00:00:00+00:00")
    out = ev(EventKind.OPT_OUT, "2026-06-01T10:00:00-05:00", channel=Channel.SMS)
    a = attempt("2026-06-10T22:00:00-05:00", Channel.SMS, text="We will sue you.")
    d = run(a, [barred, out])
    assert set(d.blocked_by) == {"US-T1", "US-B1", "US-E1", "US-F2"}
