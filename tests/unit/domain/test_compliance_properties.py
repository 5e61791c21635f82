"""Invariants of the gate (Hypothesis): order independence and an exact next_allowed_at."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arrears.domain.compliance import (
    Actor,
    ActorKind,
    Attempt,
    Channel,
    ClockWindow,
    EventKind,
    HistoryEntry,
    Outcome,
    PastAttempt,
    Purpose,
    StateEvent,
    Target,
    TargetKind,
    decide,
    pack_by_id,
)

ZONES = {
    "CN": [None, "Asia/Shanghai", "Asia/Urumqi"],
    "US": [None, "America/New_York", "America/Chicago", "America/Los_Angeles", "Pacific/Honolulu"],
}
ADDRESSES = ["+1", "+2", "+3"]
# Around both US DST changes of 2026 and an ordinary week.
STARTS = [
    datetime(2026, 3, 5, tzinfo=UTC),
    datetime(2026, 10, 29, tzinfo=UTC),
    datetime(2026, 6, 10, tzinfo=UTC),
]
EVENT_KINDS = [
    EventKind.DISPUTE_OPENED,
    EventKind.DISPUTE_CLOSED,
    EventKind.CONSENT,
    EventKind.CONSENT_WITHDRAWN,
    EventKind.OPT_OUT,
    EventKind.HARDSHIP_PAUSE,
    EventKind.HARDSHIP_END,
    EventKind.VALIDATION_NOTICE_SENT,
    EventKind.CREDIT_NOTICE_SENT,
    EventKind.CREDIT_NOTICE_RETURNED,
    EventKind.NUMBERS_INVALID,
    EventKind.AGENCY_NOTICE,
]


def targets(zone: str | None) -> st.SearchStrategy[Target]:
    return st.builds(
        Target,
        st.sampled_from(list(TargetKind)),
        st.sampled_from(ADDRESSES),
        st.sampled_from([None, "mother"]),
        st.just(zone),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[Attempt, list[HistoryEntry]]:
    pack = draw(st.sampled_from(["CN", "US"]))
    zone = draw(st.sampled_from(ZONES[pack]))
    base = draw(st.sampled_from(STARTS)) + timedelta(seconds=draw(st.integers(0, 10 * 86400)))
    at = base.replace(microsecond=0)
    seconds_before = st.integers(0, 9 * 86400).map(lambda s: at - timedelta(seconds=s))
    actors = st.sampled_from([Actor(ActorKind.SYSTEM), Actor(ActorKind.AGENCY, "a", "Acme")])
    past = st.builds(
        PastAttempt,
        st.sampled_from(list(Channel)),
        targets(zone),
        seconds_before,
        st.sampled_from(list(Outcome)),
        actors,
        st.sampled_from([None, *Purpose]),
    )
    event = st.builds(
        StateEvent,
        st.sampled_from(EVENT_KINDS),
        seconds_before,
        channel=st.sampled_from([None, Channel.SMS, Channel.CALL]),
        address=st.sampled_from([None, *ADDRESSES]),
        window=st.sampled_from(
            [None, ClockWindow(time(21), time(23)), ClockWindow(time(6), time(9))]
        ),
        until=st.sampled_from([None, at + timedelta(hours=30), at - timedelta(hours=1)]),
        agency=st.sampled_from([None, "Acme"]),
    )
    history = draw(st.lists(st.one_of(past, past, event), max_size=25))
    attempt = Attempt(
        pack,
        draw(st.sampled_from(list(Channel))),
        draw(st.sampled_from(list(Purpose))),
        draw(targets(zone)),
        at,
        draw(actors),
        text=draw(st.sampled_from([None, "Reply STOP to opt out", "老赖", "we will sue"])),
    )
    return attempt, history


@st.composite
def busy_cases(draw: st.DrawFn) -> tuple[Attempt, list[HistoryEntry]]:
    """Dense histories that exercise the counting rules (CN-F1/F2/F3, CN-P2, US-F1)."""
    pack = draw(st.sampled_from(["CN", "US"]))
    zone = draw(st.sampled_from(ZONES[pack]))
    base = draw(st.sampled_from(STARTS)) + timedelta(seconds=draw(st.integers(0, 10 * 86400)))
    at = base.replace(microsecond=0)
    kind = draw(st.sampled_from([TargetKind.BORROWER, TargetKind.THIRD_PARTY]))
    target = Target(kind, "+1", "mother", zone)
    borrower = Target(TargetKind.BORROWER, "+1", None, zone)
    spread = draw(st.sampled_from([12 * 3600, 8 * 86400]))
    seconds_before = st.integers(0, spread).map(lambda s: at - timedelta(seconds=s))
    past = st.builds(
        PastAttempt,
        st.sampled_from([Channel.CALL, Channel.CALL, Channel.SMS, Channel.PUSH]),
        st.sampled_from([target, borrower]),
        seconds_before,
        st.sampled_from([Outcome.ANSWERED, Outcome.UNANSWERED, Outcome.FAILED]),
        st.just(Actor(ActorKind.SYSTEM)),
        st.sampled_from([None, Purpose.COLLECTION, Purpose.LOCATE]),
    )
    history: list[HistoryEntry] = draw(st.lists(past, max_size=40))
    history.append(StateEvent(EventKind.NUMBERS_INVALID, at - timedelta(days=9)))
    history.append(StateEvent(EventKind.VALIDATION_NOTICE_SENT, at - timedelta(days=9)))
    if draw(st.booleans()):
        window = ClockWindow(time(draw(st.integers(0, 23))), time(draw(st.integers(0, 23))))
        history.append(StateEvent(EventKind.CONSENT, at - timedelta(days=9), window=window))
    purpose = Purpose.LOCATE if kind is TargetKind.THIRD_PARTY else Purpose.COLLECTION
    channel = draw(st.sampled_from([Channel.CALL, Channel.SMS, Channel.VISIT]))
    return Attempt(pack, channel, purpose, target, at, Actor(ActorKind.SYSTEM)), history


ANY_CASE = st.one_of(cases(), busy_cases())


def at_time(attempt: Attempt, moment: datetime) -> Attempt:
    return Attempt(
        attempt.pack,
        attempt.channel,
        attempt.purpose,
        attempt.target,
        moment,
        attempt.actor,
        attempt.text,
        attempt.letter,
        attempt.staff,
    )


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ANY_CASE, st.randoms(use_true_random=False))
def test_shuffling_the_history_does_not_change_the_decision(
    case: tuple[Attempt, list[HistoryEntry]], rnd: object
) -> None:
    attempt, history = case
    pack = pack_by_id(attempt.pack)
    shuffled = list(history)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert decide(attempt, history, pack) == decide(attempt, shuffled, pack)
    assert decide(attempt, list(reversed(history)), pack) == decide(attempt, history, pack)


@SETTINGS
@given(ANY_CASE)
def test_next_allowed_at_is_the_earliest_passing_instant(
    case: tuple[Attempt, list[HistoryEntry]],
) -> None:
    attempt, history = case
    pack = pack_by_id(attempt.pack)
    d = decide(attempt, history, pack)
    if d.allowed:
        assert d.next_allowed_at == attempt.at
        return
    if d.next_allowed_at is None:
        return
    assert d.next_allowed_at > attempt.at
    later = decide(at_time(attempt, d.next_allowed_at), history, pack)
    assert later.allowed, later.reasons["en"]
    before = decide(at_time(attempt, d.next_allowed_at - timedelta(seconds=1)), history, pack)
    assert not before.allowed


@SETTINGS
@given(ANY_CASE)
def test_every_blocking_rule_is_listed_among_the_rules(
    case: tuple[Attempt, list[HistoryEntry]],
) -> None:
    attempt, history = case
    d = decide(attempt, history, pack_by_id(attempt.pack))
    assert set(d.blocked_by) <= set(d.rules)
    assert d.allowed is (not d.blocked_by)
    assert list(d.rules) == sorted(d.rules)
    assert {x.rule for x in d.duties} <= set(d.rules)
