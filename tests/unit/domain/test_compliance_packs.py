"""Packs and overrides, the lexicon, the document checks and the wall-clock helpers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from arrears.domain.compliance import (
    DEFAULT_LEXICON,
    Actor,
    ActorKind,
    Approval,
    Attempt,
    Category,
    Channel,
    ClockWindow,
    Outcome,
    PackError,
    PastAttempt,
    Purpose,
    Target,
    TargetKind,
    check_letter,
    check_scorecard,
    cn_pack,
    decide,
    pack_by_id,
    screen_text,
    us_pack,
)
from arrears.domain.compliance.clock import rolling_free_day, wall_to_instant
from arrears.domain.compliance.documents import LETTER_FIELDS

OFFICER = Approval("li.compliance", datetime(2026, 11, 1, 9, 0, tzinfo=UTC), "pilot, memo 42")


def test_every_rule_of_the_spec_has_a_parameter_set_with_a_source() -> None:
    cn = cn_pack()
    assert set(cn.rules) == {
        *(f"CN-{x}" for x in ("T1", "T2", "F1", "F2", "F3", "P1", "P2", "H1", "H2")),
        *(f"CN-{x}" for x in ("X1", "X2", "R1", "R2", "V1", "O1", "O2", "C1", "D1")),
    }
    us = us_pack()
    assert set(us.rules) == {
        *(f"US-{x}" for x in ("T1", "F1", "F2", "E1", "V1", "W1", "3P", "B1", "C1"))
    }
    assert all(spec.source for spec in [*cn.rules.values(), *us.rules.values()])
    assert cn.version == us.version == "1"


def test_tightening_is_free_and_recorded() -> None:
    pack = cn_pack().with_parameters(
        {
            "CN-F1": {"max_unanswered_calls_per_number_per_day": 4},
            "CN-T1": {"permitted_hours": ClockWindow(time(9), time(21))},
        }
    )
    assert pack.overridden
    assert pack.overrides["CN-F1.max_unanswered_calls_per_number_per_day"] == "4"
    target = Target(TargetKind.BORROWER, "+8613800000001", timezone="Asia/Shanghai")
    calls = [
        PastAttempt(
            Channel.CALL,
            target,
            datetime(2026, 11, 28, 1, i, tzinfo=UTC),
            Outcome.UNANSWERED,
            Actor(ActorKind.SYSTEM),
        )
        for i in range(4)
    ]
    a = Attempt(
        "CN",
        Channel.CALL,
        Purpose.COLLECTION,
        target,
        datetime(2026, 11, 28, 4, 0, tzinfo=UTC),
        Actor(ActorKind.COLLECTOR),
    )
    d = decide(a, calls, pack)
    assert d.blocked_by == ("CN-F1",)
    out = d.to_json()["pack"]
    assert out["overridden"] is True  # type: ignore[index]
    assert decide(a, calls, cn_pack()).allowed
    # 08:30 passes the stock pack, not the tightened 09:00 start
    early = Attempt(
        "CN",
        Channel.SMS,
        Purpose.REMINDER,
        target,
        datetime(2026, 11, 28, 0, 30, tzinfo=UTC),
        Actor(ActorKind.SYSTEM),
    )
    assert decide(early, [], cn_pack()).allowed
    assert decide(early, [], pack).blocked_by == ("CN-T1",)


@pytest.mark.parametrize(
    ("rule", "name", "value"),
    [
        ("CN-F1", "max_unanswered_calls_per_number_per_day", 7),
        ("CN-T1", "permitted_hours", ClockWindow(time(7), time(22))),
        ("CN-T2", "visit_hours", ClockWindow(time(8), time(23))),
        ("CN-P2", "failed_attempts_before_locate", 2),
        ("CN-R1", "recording", False),
        ("US-F1", "days_after_conversation", 6),
    ],
)
def test_loosening_past_the_floor_needs_an_approval(rule: str, name: str, value: object) -> None:
    pack = pack_by_id(rule[:2])
    with pytest.raises(PackError, match="approval"):
        pack.with_parameters({rule: {name: value}})  # type: ignore[dict-item]
    approved = pack.with_parameters({rule: {name: value}}, OFFICER)  # type: ignore[dict-item]
    assert approved.approvals == (OFFICER,)
    assert approved.overridden


def test_lender_settings_loosen_up_to_the_floor_without_approval() -> None:
    # CN-T2's 20:00 is the lender's setting; the floor is CN-T1's 22:00
    pack = cn_pack().with_parameters({"CN-T2": {"visit_hours": ClockWindow(time(8), time(22))}})
    assert pack.window("CN-T2", "visit_hours").end == time(22)
    assert cn_pack().with_parameters({"CN-C1": {"notice_lead_days": 3}}).overridden


def test_bad_overrides_say_what_is_wrong() -> None:
    with pytest.raises(PackError, match="no rule"):
        cn_pack().with_parameters({"CN-ZZ": {}})
    with pytest.raises(PackError, match="no parameter"):
        cn_pack().with_parameters({"CN-F1": {"max": 1}})
    with pytest.raises(PackError, match="expected int"):
        cn_pack().with_parameters({"CN-F1": {"max_unanswered_calls_per_number_per_day": True}})
    with pytest.raises(PackError, match="wrap"):
        cn_pack().with_parameters({"CN-T1": {"permitted_hours": ClockWindow(time(22), time(8))}})
    with pytest.raises(PackError, match="unknown pack"):
        pack_by_id("EU")
    with pytest.raises(PackError, match="aware"):
        Approval("x", datetime(2026, 1, 1), "y")  # noqa: DTZ001 - the error under test


def test_the_attempt_and_the_pack_must_agree() -> None:
    target = Target(TargetKind.BORROWER, "x", timezone="Asia/Shanghai")
    a = Attempt(
        "US",
        Channel.SMS,
        Purpose.REMINDER,
        target,
        datetime(2026, 1, 1, tzinfo=UTC),
        Actor(ActorKind.SYSTEM),
    )
    with pytest.raises(PackError):
        decide(a, [], cn_pack())


# --- lexicon ----------------------------------------------------------------------------------


def test_screen_text_finds_every_hit_with_positions() -> None:
    hits = screen_text("老赖！再不还钱就爆通讯录", DEFAULT_LEXICON)
    assert [(h.category, h.term) for h in hits] == [
        (Category.INSULT, "老赖"),
        (Category.EXPOSURE, "爆通讯录"),
        (Category.EXPOSURE, "通讯录"),
    ]
    assert hits[0].start == 0


def test_screen_text_uses_word_boundaries_for_english_and_folds_width_and_case() -> None:
    assert screen_text("Our skilled team", DEFAULT_LEXICON) == []
    assert [h.term for h in screen_text("ＷＥ　ＷＩＬＬ Kill   You", DEFAULT_LEXICON)] == [
        "kill you"
    ]
    assert (
        screen_text("We can help you stop the calls", DEFAULT_LEXICON)[0].category
        is Category.OPT_OUT
    )


# --- documents --------------------------------------------------------------------------------


def test_check_letter() -> None:
    full = {f: "x" for f in LETTER_FIELDS} | {"amount_owed": "12.30"}
    assert check_letter(full) == []
    assert check_letter({**full, "seal": " "}) == ["seal"]
    assert check_letter({**full, "amount_owed": "lots"}) == ["amount_owed (not a decimal amount)"]
    assert check_letter({}) == list(LETTER_FIELDS)


def test_check_scorecard() -> None:
    assert check_scorecard({"amount_recovered": Decimal(1)})
    assert check_scorecard({"amount_recovered": Decimal("0.6"), "complaints": Decimal("0.4")}) == []
    assert check_scorecard({}) == ["the scorecard has no weighted metric"]
    assert check_scorecard({"quality": Decimal(-1)}) == ["weights must not be negative"]


# --- wall clock -------------------------------------------------------------------------------

NY = ZoneInfo("America/New_York")


def test_wall_to_instant_in_a_dst_gap_gives_the_end_of_the_gap() -> None:
    assert wall_to_instant(date(2026, 3, 8), time(2, 30), NY) == datetime(2026, 3, 8, 7, tzinfo=UTC)


def test_wall_to_instant_when_clocks_go_back_gives_the_first_occurrence() -> None:
    first = wall_to_instant(date(2026, 11, 1), time(1, 30), NY)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT


def test_rolling_free_day() -> None:
    days = [date(2026, 6, d) for d in (1, 3, 5)]
    assert rolling_free_day(days, date(2026, 6, 5), 3, 7) == date(2026, 6, 8)
    assert rolling_free_day(days, date(2026, 6, 5), 4, 7) == date(2026, 6, 5)
    assert rolling_free_day(days, date(2026, 6, 5), 0, 7) is None
