"""Door visits (issue 6), the visit itself: check-in, the record, evidence, check-out — and
the managers' visit reports.

A planned visit (``visit_requests``, ``services.visits``) is made by its field team:

- **start** (``start_visit``): the compliance gate is asked (channel ``visit``, the two
  agents as ``staff``: CN-T2 visiting hours, CN-V1 two staff, CN-H1/H2 holds …) and its
  decision kept; both agents must be the team's members, recording must be on (CN-R1), and
  the phone's position must be within ``radius_m`` of the address — or the agent says why.
- **record** (``save_record``): whom they met, the reason for the delinquency, the borrower's
  situation and emotional state, the outcome, follow-up and a note (screened for CN-X1
  language: kept, flagged to compliance); a promise made at the door is stored with
  ``services.promises`` (channel ``visit``). A save carries the phone's ``client_ref``: the
  same save re-sent after the phone was offline is answered with the stored result.
- **evidence** (``add_evidence``): photos and audio, stored as ``<visit_id>/<sha256>`` under
  the evidence directory with their SHA-256 and kept until the visit day + 2 years (CN-R1).
- **end** (``end_visit``): the check-out, with the same distance check.

Only the visit's team members write; managers (``VIEW_VISIT_REPORTS``) read. Every step is
written to the audit log.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import plan_tables
from arrears.adapters.db import tables as t
from arrears.adapters.db import visit_record_tables as vrt
from arrears.adapters.db import visit_tables as vt
from arrears.adapters.db.engine import savepoint
from arrears.domain.compliance import (
    DEFAULT_LEXICON,
    Actor,
    ActorKind,
    Attempt,
    Channel,
    Pack,
    Purpose,
    Target,
    TargetKind,
    decide,
    screen_text,
)
from arrears.domain.compliance.lexicon import X1_CATEGORIES
from arrears.domain.contacts import Channel as ContactChannel
from arrears.domain.contacts import ContactOutcome, DelinquencyReason
from arrears.domain.errors import Conflict, Forbidden, Issue, NotFound, ValidationError
from arrears.domain.money import to_minor
from arrears.domain.people import Actor as Person
from arrears.domain.people import Permission, may
from arrears.domain.products import ProductSettings
from arrears.domain.routing import Point, haversine_km
from arrears.services.access import BATCH_ACTOR, VisitPoint, visit_points
from arrears.services.audit import record
from arrears.services.contact_gate import history_of, record_decision
from arrears.services.desk import ContactInput, log_contact
from arrears.services.promises import PromisedBy, PromiseInput, parse_items, record_promise

__all__ = [
    "EVIDENCE_MAX_BYTES",
    "EmotionalState",
    "EndResult",
    "EvidenceRow",
    "Met",
    "RecordInput",
    "ReportRow",
    "SaveResult",
    "StartResult",
    "VisitOutcome",
    "VisitReason",
    "VisitReport",
    "VisitState",
    "add_evidence",
    "end_visit",
    "evidence_file",
    "parse_record",
    "save_record",
    "start_visit",
    "visit_report",
    "visit_state",
]

_SRC = "visit"
EVIDENCE_MAX_BYTES = 25 * 1024 * 1024
RETENTION_YEARS_FLOOR = 2  # CN-R1
_CLIENT_REF = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_MIME = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
COLLECT_DAYS = (7, 30)  # payments within N days of the visit day (that day included)


class Met(StrEnum):
    BORROWER = "borrower"
    FAMILY = "family"
    NOBODY = "nobody"


class VisitReason(StrEnum):
    JOB_LOSS = "job_loss"
    ILLNESS = "illness"
    BUSINESS_TROUBLE = "business_trouble"
    DISPUTE = "dispute"
    REFUSAL = "refusal"
    FRAUD_CLAIM = "fraud_claim"
    OTHER = "other"


class EmotionalState(StrEnum):
    CALM = "calm"
    ANXIOUS = "anxious"
    ANGRY = "angry"
    DISTRESSED = "distressed"


class VisitOutcome(StrEnum):
    PAID_NOW = "paid_now"
    PROMISE = "promise"
    PLAN_PROPOSED = "plan_proposed"
    REFUSED = "refused"
    NOT_FOUND = "not_found"
    MOVED = "moved"


FOUND = frozenset({Met.BORROWER.value, Met.FAMILY.value})
# With nobody at the door only these outcomes can be told.
_NOBODY_OUTCOMES = frozenset({VisitOutcome.NOT_FOUND, VisitOutcome.MOVED})


# --------------------------------------------------------------------------------------------
# Who may


def _visit(conn: Connection, visit_id: int, lock: bool = False) -> Any:
    v = vt.visit_requests
    q = select(v).where(v.c.visit_id == visit_id)
    if lock:
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"no visit {visit_id}")
    return row


def team_members(conn: Connection, team_id: str | None) -> dict[str, str]:
    """username → display name of the team's active members."""
    if team_id is None:
        return {}
    m, u = vt.field_team_members, d.users
    rows = conn.execute(
        select(u.c.username, u.c.display_name)
        .join(m, m.c.user_id == u.c.user_id)
        .where(m.c.team_id == team_id, u.c.active.is_(True))
        .order_by(u.c.username)
    )
    return {r.username: r.display_name for r in rows}


def _is_member(conn: Connection, actor: Person, team_id: str | None) -> bool:
    if actor.user_id is None or team_id is None:
        return False
    m = vt.field_team_members
    found = conn.execute(
        select(m.c.user_id).where(m.c.team_id == team_id, m.c.user_id == actor.user_id)
    ).first()
    return found is not None


def _check_writer(conn: Connection, actor: Person, visit: Any) -> None:
    """Only the visit's team members record it (others: Forbidden by role, NotFound by team)."""
    if actor.role is None or not may(actor.role, Permission.RECORD_VISITS):
        raise Forbidden("your role may not record visits")
    if not _is_member(conn, actor, visit.team_id):
        raise NotFound(f"no visit {visit.visit_id}")


def _check_reader(conn: Connection, actor: Person, visit: Any) -> bool:
    """May ``actor`` read the visit; True when they may also write it."""
    role = actor.role
    if role is not None and may(role, Permission.RECORD_VISITS):
        if _is_member(conn, actor, visit.team_id):
            return True
        if not may(role, Permission.VIEW_VISIT_REPORTS):
            raise NotFound(f"no visit {visit.visit_id}")
    if role is None or not may(role, Permission.VIEW_VISIT_REPORTS):
        raise Forbidden("your role may not read visits")
    return False


# --------------------------------------------------------------------------------------------
# Positions


def _position(
    lat: Decimal | None, lon: Decimal | None, where: str, issues: list[Issue]
) -> Point | None:
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        issues.append(Issue(_SRC, None, f"{where}_position", "give both latitude and longitude"))
        return None
    if not (lat.is_finite() and lon.is_finite() and -90 <= lat <= 90 and -180 <= lon <= 180):
        issues.append(Issue(_SRC, None, f"{where}_position", "not a position on Earth"))
        return None
    return Point(float(lat), float(lon))


def _address_point(
    conn: Connection, actor: Person, borrower_id: str, now: datetime, purpose: str
) -> tuple[Point | None, VisitPoint]:
    """The address's coordinates (and its contact points), read through ``services.access``
    (the visit is on the agent's team route; audited)."""
    found = visit_points(conn, actor, [borrower_id], now, purpose).get(borrower_id)
    if found is None:
        raise NotFound(f"no account {borrower_id}")
    if found.latitude is None or found.longitude is None:
        return None, found
    return Point(float(found.latitude), float(found.longitude)), found


def _distance_check(
    here: Point | None,
    address: Point | None,
    radius_m: int,
    reason: str | None,
    where: str,
    issues: list[Issue],
) -> tuple[int | None, str | None]:
    """(distance in metres or None, the reason kept): farther than the radius, or with no
    position, needs a reason."""
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > 500:
        issues.append(Issue(_SRC, None, f"{where}_reason", "at most 500 characters"))
    distance_km = haversine_km(here, address) if here and address else None
    far = distance_km is None or distance_km * 1000 > radius_m
    if far and (reason is None or len(reason) < 3):
        why = (
            f"you are {round(distance_km * 1000)} m from the address (more than {radius_m} m)"
            if distance_km is not None
            else "no position from the phone"
            if here is None
            else "the address has no coordinates"
        )
        issues.append(Issue(_SRC, None, f"{where}_reason", f"{why}: say why (3+ characters)"))
    return (None if distance_km is None else round(distance_km * 1000)), reason


# --------------------------------------------------------------------------------------------
# Start


@dataclass(frozen=True, slots=True)
class StartResult:
    allowed: bool
    decision_id: int
    blocked_by: tuple[str, ...]
    reasons: Mapping[str, str]
    next_allowed_at: datetime | None
    distance_m: int | None
    duties: tuple[tuple[str, str, str], ...] = ()  # (rule, English, Chinese)


def start_visit(
    conn: Connection,
    actor: Person,
    visit_id: int,
    lat: Decimal | None,
    lon: Decimal | None,
    agents: Sequence[str],
    recording_on: bool,
    reason_if_far: str | None,
    now: datetime,
    radius_m: int,
    pack: Pack,
    lender_tz: str,
) -> StartResult:
    """Check in at the door. Input errors raise ValidationError (the gate is not asked); then
    the gate decides and its decision is recorded: when it blocks, the visit stays planned
    and the result says why (the caller commits, so the refusal is kept)."""
    visit = _visit(conn, visit_id, lock=True)
    _check_writer(conn, actor, visit)
    if visit.status != "planned":
        raise Conflict(f"visit {visit_id} is {visit.status}, not planned")
    issues: list[Issue] = []
    members = team_members(conn, visit.team_id)
    names = [a.strip() for a in agents if a and a.strip()]
    if len(names) != 2 or len(set(names)) != 2:
        issues.append(Issue(_SRC, None, "agents", "name the two agents at the door (CN-V1)"))
    else:
        strangers = [a for a in names if a not in members]
        if strangers:
            issues.append(
                Issue(_SRC, None, "agents", f"not members of team {visit.team_id}: {strangers}")
            )
        elif actor.name not in names:
            issues.append(Issue(_SRC, None, "agents", "you must be one of the two agents"))
    if not recording_on:
        issues.append(Issue(_SRC, None, "recording", "turn the recording on (CN-R1)"))
    here = _position(lat, lon, "start", issues)
    address, borrower = _address_point(conn, actor, visit.borrower_id, now, "visit_checkin")
    distance, reason = _distance_check(here, address, radius_m, reason_if_far, "start", issues)
    if issues:
        raise ValidationError(issues)
    attempt = Attempt(
        pack=pack.pack_id,
        channel=Channel.VISIT,
        purpose=Purpose.COLLECTION,
        target=Target(TargetKind.BORROWER, borrower.address or "", timezone=lender_tz),
        at=now,
        actor=Actor(ActorKind.COLLECTOR, actor.name),
        staff=tuple(sorted(names)),
    )
    history = history_of(conn, visit.borrower_id, borrower.phone, lender_tz)
    decision = decide(attempt, history, pack)
    decision_id = record_decision(conn, decision, attempt, visit.borrower_id, now)
    result = StartResult(
        allowed=decision.allowed,
        decision_id=decision_id,
        blocked_by=tuple(decision.blocked_by),
        reasons=dict(decision.reasons),
        next_allowed_at=decision.next_allowed_at,
        distance_m=distance,
        duties=tuple((x.rule, x.en, x.zh) for x in decision.duties),
    )
    detail: dict[str, Any] = {
        "decision_id": decision_id,
        "agents": sorted(names),
        "distance_m": distance,
        "radius_m": radius_m,
    }
    if not decision.allowed:
        record(
            conn,
            actor,
            "start_visit_refused",
            "visit",
            str(visit_id),
            now,
            detail=detail | {"blocked_by": list(decision.blocked_by)},
        )
        return result
    conn.execute(
        insert(vrt.visit_records).values(
            visit_id=visit_id,
            started_at=now,
            start_latitude=lat,
            start_longitude=lon,
            start_distance_m=distance,
            start_reason=reason,
            agents=" ".join(sorted(names)),
            recording_confirmed=True,
            start_decision_id=decision_id,
            recorded_by=actor.name,
            updated_at=now,
        )
    )
    conn.execute(
        update(vt.visit_requests)
        .where(vt.visit_requests.c.visit_id == visit_id)
        .values(status="started")
    )
    record(conn, actor, "start_visit", "visit", str(visit_id), now, reason=reason, detail=detail)
    return result


# --------------------------------------------------------------------------------------------
# The record


@dataclass(frozen=True, slots=True)
class RecordInput:
    met: Met
    outcome: VisitOutcome
    delinquency_reason: VisitReason | None = None
    financial_situation: str | None = None
    emotional_state: EmotionalState | None = None
    de_escalated: bool = False
    amount_paid: Decimal | None = None  # outcome paid_now
    follow_up: str | None = None
    note: str | None = None
    promise_items: tuple[tuple[date, Decimal], ...] = ()  # outcome promise
    promised_by: PromisedBy = PromisedBy.BORROWER
    loan_id: str | None = None  # the promise's loan (None: all the account's loans)


PROMISE_ROWS = 3  # date_1/amount_1 … in the form


def parse_record(form: Mapping[str, Any]) -> RecordInput:
    """The record from a form's fields (strings); every problem at once, by field name."""
    issues: list[Issue] = []

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def choice(name: str, kind: Any, required: bool) -> Any:
        raw = text(name)
        if not raw:
            if required:
                issues.append(Issue(_SRC, None, name, "choose one"))
            return None
        try:
            return kind(raw)
        except ValueError:
            issues.append(Issue(_SRC, None, name, f"unknown value {raw!r}"))
            return None

    met = choice("met", Met, True)
    outcome = choice("outcome", VisitOutcome, True)
    reason = choice("delinquency_reason", VisitReason, False)
    state = choice("emotional_state", EmotionalState, False)
    by = choice("promised_by", PromisedBy, False) or PromisedBy.BORROWER
    paid: Decimal | None = None
    if text("amount_paid"):
        try:
            paid = Decimal(text("amount_paid").replace(",", ""))
        except InvalidOperation:
            issues.append(Issue(_SRC, None, "amount_paid", "not an amount"))
    items: list[tuple[date, Decimal]] = []
    try:
        items = parse_items(
            [(text(f"date_{i}"), text(f"amount_{i}")) for i in range(1, PROMISE_ROWS + 1)],
            where=_SRC,
        )
    except ValidationError as exc:
        issues.extend(exc.issues)
    if issues:
        raise ValidationError(issues)
    return RecordInput(
        met=met,
        outcome=outcome,
        delinquency_reason=reason,
        financial_situation=text("financial_situation") or None,
        emotional_state=state,
        de_escalated=text("de_escalated") in ("on", "true", "1", "yes"),
        amount_paid=paid,
        follow_up=text("follow_up") or None,
        note=text("note") or None,
        promise_items=tuple(items),
        promised_by=by,
        loan_id=text("loan_id") or None,
    )


def _validate_record(r: RecordInput) -> list[Issue]:
    issues: list[Issue] = []

    def bad(column: str, reason: str) -> None:
        issues.append(Issue(_SRC, None, column, reason))

    someone = r.met is not Met.NOBODY
    if not someone:
        if r.outcome not in _NOBODY_OUTCOMES:
            bad("outcome", "with nobody met the outcome is 'not found' or 'moved'")
        if r.emotional_state is not None or r.de_escalated:
            bad("emotional_state", "nobody was met: leave the emotional state empty")
    else:
        if r.emotional_state is None:
            bad("emotional_state", "choose the emotional state of the person met")
        if r.met is Met.BORROWER and r.delinquency_reason is None:
            bad("delinquency_reason", "choose the reason the borrower gives")
    if r.outcome is VisitOutcome.PAID_NOW:
        if r.amount_paid is None:
            bad("amount_paid", "how much was paid")
        elif (
            not r.amount_paid.is_finite()
            or r.amount_paid <= 0
            or r.amount_paid != r.amount_paid.quantize(Decimal("0.01"))
        ):
            bad("amount_paid", "a positive amount with at most 2 decimals")
    elif r.amount_paid is not None:
        bad("amount_paid", "an amount paid needs the outcome 'paid now'")
    if r.outcome is VisitOutcome.PROMISE and not r.promise_items:
        bad("date_1", "a promise needs at least one date and amount")
    if r.outcome is not VisitOutcome.PROMISE and r.promise_items:
        bad("outcome", "a promised date or amount needs the outcome 'promise'")
    for name, value, limit in (
        ("financial_situation", r.financial_situation, 2000),
        ("follow_up", r.follow_up, 2000),
        ("note", r.note, 4000),
    ):
        if value and len(value) > limit:
            bad(name, f"at most {limit} characters")
    return issues


@dataclass(frozen=True, slots=True)
class SaveResult:
    visit_id: int
    repeated: bool  # the same client_ref was saved before: nothing changed
    promise_id: int | None
    note_flagged: str | None


def _promise_items(conn: Connection, promise_id: int) -> tuple[str | None, list[tuple[date, int]]]:
    p, i = nt.promises.c, nt.promise_items.c
    loan = conn.execute(select(p.loan_id).where(p.promise_id == promise_id)).scalar()
    items = [
        (r.due_on, int(r.amount_minor))
        for r in conn.execute(
            select(i.due_on, i.amount_minor).where(i.promise_id == promise_id).order_by(i.seq)
        )
    ]
    return loan, items


def _known_save(conn: Connection, visit_id: int, client_ref: str) -> SaveResult | None:
    sv = vrt.visit_record_saves.c
    known = conn.execute(
        select(sv.visit_id, sv.promise_id, sv.note_flagged).where(sv.client_ref == client_ref)
    ).first()
    if known is None:
        return None
    if int(known.visit_id) != visit_id:
        raise ValidationError([Issue(_SRC, None, "client_ref", "already used for another visit")])
    return SaveResult(visit_id, True, known.promise_id, known.note_flagged)


def _raise_conflict(visit_id: int) -> SaveResult:
    raise Conflict(f"visit {visit_id}: the save clashed with another; send it again")


def _screen(note: str | None) -> tuple[str | None, list[str]]:
    if not note:
        return None, []
    hits = [h for h in screen_text(note, DEFAULT_LEXICON) if h.category in X1_CATEGORIES]
    flagged = " ".join(sorted({h.category.value for h in hits})) or None
    return flagged, sorted({h.term for h in hits})


def save_record(
    conn: Connection,
    actor: Person,
    visit_id: int,
    rec: RecordInput,
    now: datetime,
    client_ref: str | None,
    *,
    lender_tz: str = "Asia/Shanghai",
    products: Mapping[str, ProductSettings] | None = None,
) -> SaveResult:
    """Store (or amend) the visit's record. A ``client_ref`` seen before for this visit
    answers the result it was given and changes nothing (an offline save sent twice, or sent
    again after newer saves: it does not overwrite them)."""
    visit = _visit(conn, visit_id, lock=True)
    _check_writer(conn, actor, visit)
    r = vrt.visit_records.c
    client_ref = (client_ref or "").strip() or None
    if client_ref is not None:
        if not _CLIENT_REF.match(client_ref):
            raise ValidationError([Issue(_SRC, None, "client_ref", "8-64 letters, digits, - or _")])
        known = _known_save(conn, visit_id, client_ref)
        if known is not None:
            return known
    current = conn.execute(select(vrt.visit_records).where(r.visit_id == visit_id)).first()
    if current is None or visit.status not in ("started", "done"):
        raise Conflict(f"visit {visit_id} is {visit.status}: start it first")
    issues = _validate_record(rec)
    if issues:
        raise ValidationError(issues)
    if client_ref is not None:
        try:
            with savepoint(conn):  # the same save posted twice at once: one of them wins
                conn.execute(
                    insert(vrt.visit_record_saves).values(
                        client_ref=client_ref, visit_id=visit_id, saved_by=actor.name, saved_at=now
                    )
                )
        except IntegrityError:
            return _known_save(conn, visit_id, client_ref) or _raise_conflict(visit_id)
    flagged, terms = _screen(rec.note)
    promise_id = current.promise_id
    if rec.promise_items:
        wanted = [(day, to_minor(a)) for day, a in rec.promise_items]
        same = promise_id is not None and _promise_items(conn, int(promise_id)) == (
            rec.loan_id,
            wanted,
        )
        if not same:
            made_on = now.astimezone(ZoneInfo(lender_tz)).date()
            promise_id = record_promise(
                conn,
                actor,  # the visit's team may address the account (access.visible_accounts)
                visit.borrower_id,
                PromiseInput(
                    rec.promise_items,
                    channel=ContactChannel.VISIT,
                    promised_by=rec.promised_by,
                    loan_id=rec.loan_id,
                    note=f"visit {visit_id}",
                ),
                now,
                made_on,
                products or {},
            )
    conn.execute(
        update(vrt.visit_records)
        .where(r.visit_id == visit_id)
        .values(
            client_ref=client_ref,
            met=rec.met.value,
            delinquency_reason=rec.delinquency_reason.value if rec.delinquency_reason else None,
            financial_situation=rec.financial_situation,
            emotional_state=rec.emotional_state.value if rec.emotional_state else None,
            de_escalated=rec.de_escalated if rec.met is not Met.NOBODY else None,
            outcome=rec.outcome.value,
            amount_paid_minor=to_minor(rec.amount_paid) if rec.amount_paid is not None else None,
            follow_up=rec.follow_up,
            note=rec.note,
            note_flagged=flagged,
            promise_id=promise_id,
            recorded_by=actor.name,
            updated_at=now,
        )
    )
    if client_ref is not None:
        conn.execute(
            update(vrt.visit_record_saves)
            .where(vrt.visit_record_saves.c.client_ref == client_ref)
            .values(promise_id=promise_id, note_flagged=flagged)
        )
    if rec.note and rec.note != current.note:
        # The note joins the account's notes; a flagged one reaches compliance's review.
        conn.execute(
            insert(d.notes).values(
                borrower_id=visit.borrower_id,
                loan_id=visit.loan_id,
                author=actor.name,
                body=rec.note,
                created_at=now,
                flagged=flagged,
            )
        )
    detail: dict[str, Any] = {
        "met": rec.met.value,
        "outcome": rec.outcome.value,
        "promise_id": promise_id,
        "client_ref": client_ref,
    }
    if flagged:
        detail |= {"flagged": flagged, "terms": terms, "lexicon": DEFAULT_LEXICON.version}
    record(conn, actor, "save_visit_record", "visit", str(visit_id), now, detail=detail)
    return SaveResult(visit_id, False, promise_id, flagged)


# --------------------------------------------------------------------------------------------
# End


@dataclass(frozen=True, slots=True)
class EndResult:
    visit_id: int
    distance_m: int | None
    repeated: bool  # ended before: nothing changed


def end_visit(
    conn: Connection,
    actor: Person,
    visit_id: int,
    lat: Decimal | None,
    lon: Decimal | None,
    reason_if_far: str | None,
    now: datetime,
    radius_m: int = 200,
) -> EndResult:
    """Check out: the record must be saved; the same distance check as the start."""
    visit = _visit(conn, visit_id, lock=True)
    _check_writer(conn, actor, visit)
    r = vrt.visit_records.c
    current = conn.execute(select(vrt.visit_records).where(r.visit_id == visit_id)).first()
    if visit.status == "done" and current is not None and current.ended_at is not None:
        return EndResult(visit_id, current.end_distance_m, True)
    if visit.status != "started" or current is None:
        raise Conflict(f"visit {visit_id} is {visit.status}, not started")
    issues: list[Issue] = []
    if current.outcome is None:
        issues.append(
            Issue(_SRC, None, "outcome", "save the record (whom you met, the outcome) first")
        )
    here = _position(lat, lon, "end", issues)
    address, _ = _address_point(conn, actor, visit.borrower_id, now, "visit_checkout")
    distance, reason = _distance_check(here, address, radius_m, reason_if_far, "end", issues)
    if issues:
        raise ValidationError(issues)
    conn.execute(
        update(vrt.visit_records)
        .where(r.visit_id == visit_id)
        .values(
            ended_at=now,
            end_latitude=lat,
            end_longitude=lon,
            end_distance_m=distance,
            end_reason=reason,
            updated_at=now,
        )
    )
    # The visit is a contact: it joins the account's contact attempts (the desk's history and
    # the gate's frequency counts) — while the account is still on the team's route.
    log_contact(
        conn,
        actor,
        visit.borrower_id,
        _as_contact(current, visit.loan_id, now, visit_id),
        now,
    )
    conn.execute(
        update(vt.visit_requests)
        .where(vt.visit_requests.c.visit_id == visit_id)
        .values(status="done")
    )
    record(
        conn,
        actor,
        "end_visit",
        "visit",
        str(visit_id),
        now,
        reason=reason,
        detail={"distance_m": distance, "radius_m": radius_m},
    )
    return EndResult(visit_id, distance, False)


_REASONS = {
    "job_loss": DelinquencyReason.UNEMPLOYMENT,
    "illness": DelinquencyReason.ILLNESS,
    "business_trouble": DelinquencyReason.BUSINESS_LOSS,
    "dispute": DelinquencyReason.DISPUTE,
    "fraud_claim": DelinquencyReason.FRAUD_CLAIM,
    "refusal": DelinquencyReason.OTHER,
    "other": DelinquencyReason.OTHER,
}
_OUTCOMES = {
    "paid_now": ContactOutcome.PAID_ALREADY,
    "promise": ContactOutcome.PROMISE_TO_PAY,
    "plan_proposed": ContactOutcome.CALLBACK,
    "refused": ContactOutcome.REFUSED,
}


def _as_contact(rec: Any, loan_id: str | None, now: datetime, visit_id: int) -> ContactInput:
    """The visit record as a contact attempt on the ``visit`` channel: met the borrower →
    a right-party contact with the visit's outcome; family → a third party; nobody → no
    answer (or a wrong address when the borrower moved)."""
    if rec.met == "borrower":
        outcome = _OUTCOMES.get(rec.outcome, ContactOutcome.CALLBACK)
    elif rec.met == "family":
        outcome = ContactOutcome.THIRD_PARTY
    else:
        outcome = (
            ContactOutcome.WRONG_NUMBER if rec.outcome == "moved" else ContactOutcome.NO_ANSWER
        )
    return ContactInput(
        outcome=outcome,
        channel=ContactChannel.VISIT,
        right_party=rec.met == "borrower",
        reason=_REASONS.get(rec.delinquency_reason or ""),
        remark=f"visit {visit_id}",
        loan_id=loan_id,
        at=rec.started_at or now,
        external_id=f"visit:{visit_id}",
    )


# --------------------------------------------------------------------------------------------
# Evidence


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    evidence_id: int
    visit_id: int
    kind: str
    filename: str
    mime: str
    size_bytes: int
    sha256: str
    stored_path: str
    retention_until: date
    uploaded_by: str
    uploaded_at: datetime
    created: bool = True


def _evidence_row(m: Any, created: bool = True) -> EvidenceRow:
    return EvidenceRow(
        int(m["evidence_id"]),
        int(m["visit_id"]),
        m["kind"],
        m["filename"],
        m["mime"],
        int(m["size_bytes"]),
        m["sha256"],
        m["stored_path"],
        m["retention_until"],
        m["uploaded_by"],
        m["uploaded_at"],
        created,
    )


def _plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February: keep at least the full years
        return date(day.year + years, 3, 1)


def _clean_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return base[:200] or "evidence"


def _visit_day(visit: Any, started_at: datetime | None, lender_tz: str) -> date:
    if started_at is not None:
        return started_at.astimezone(ZoneInfo(lender_tz)).date()
    day: date = visit.planned_day
    return day


def add_evidence(
    conn: Connection,
    actor: Person,
    visit_id: int,
    filename: str,
    mime: str,
    data: bytes,
    now: datetime,
    evidence_dir: Path,
    retention_years: int = RETENTION_YEARS_FLOOR,
    lender_tz: str = "Asia/Shanghai",
) -> EvidenceRow:
    """Store a photo or recording of the visit under ``evidence_dir/<visit_id>/<sha256>``;
    the same file twice is one row (``created`` False)."""
    if retention_years < RETENTION_YEARS_FLOOR:
        raise ValueError(f"CN-R1 keeps visit recordings at least {RETENTION_YEARS_FLOOR} years")
    visit = _visit(conn, visit_id, lock=True)
    _check_writer(conn, actor, visit)
    started = conn.execute(
        select(vrt.visit_records.c.started_at).where(vrt.visit_records.c.visit_id == visit_id)
    ).scalar()
    if started is None:
        raise Conflict(f"visit {visit_id} is {visit.status}: start it first")
    issues: list[Issue] = []
    if not data:
        issues.append(Issue(_SRC, None, "file", "the file is empty"))
    if len(data) > EVIDENCE_MAX_BYTES:
        issues.append(
            Issue(_SRC, None, "file", f"at most {EVIDENCE_MAX_BYTES // (1024 * 1024)} MB")
        )
    mime = (mime or "application/octet-stream").split(";")[0].strip().lower()
    if not _MIME.match(mime) or len(mime) > 100:
        issues.append(Issue(_SRC, None, "file", f"unknown file type {mime!r}"))
    if issues:
        raise ValidationError(issues)
    sha = hashlib.sha256(data).hexdigest()
    e = vrt.visit_evidence.c
    known = conn.execute(
        select(vrt.visit_evidence).where(e.visit_id == visit_id, e.sha256 == sha)
    ).first()
    if known is not None:
        return _evidence_row(known._mapping, created=False)
    relative = f"{visit_id}/{sha}"
    target = evidence_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not (target.exists() and target.stat().st_size == len(data)):
        tmp = target.with_name(f".{sha}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    kind = (
        "photo" if mime.startswith("image/") else "audio" if mime.startswith("audio/") else "other"
    )
    until = _plus_years(_visit_day(visit, started, lender_tz), retention_years)
    values = {
        "visit_id": visit_id,
        "kind": kind,
        "filename": _clean_filename(filename),
        "mime": mime,
        "size_bytes": len(data),
        "sha256": sha,
        "stored_path": relative,
        "retention_until": until,
        "uploaded_by": actor.name,
        "uploaded_at": now,
    }
    result = conn.execute(insert(vrt.visit_evidence).values(**values))
    evidence_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    record(
        conn,
        actor,
        "add_visit_evidence",
        "visit",
        str(visit_id),
        now,
        detail={
            "evidence_id": evidence_id,
            "sha256": sha,
            "size_bytes": len(data),
            "kind": kind,
            "retention_until": until.isoformat(),
        },
    )
    return _evidence_row({"evidence_id": evidence_id, **values})


def evidence_file(
    conn: Connection,
    actor: Person,
    visit_id: int,
    evidence_id: int,
    evidence_dir: Path,
    now: datetime,
) -> tuple[EvidenceRow, Path]:
    """An evidence file to download (team members and managers; audited)."""
    visit = _visit(conn, visit_id)
    _check_reader(conn, actor, visit)
    e = vrt.visit_evidence.c
    row = conn.execute(
        select(vrt.visit_evidence).where(e.visit_id == visit_id, e.evidence_id == evidence_id)
    ).first()
    if row is None:
        raise NotFound(f"no evidence {evidence_id}")
    found = _evidence_row(row._mapping, created=False)
    if found.stored_path == PURGED:
        raise NotFound(f"evidence {evidence_id} was purged after its retention (CN-R1)")
    path = evidence_dir / found.stored_path
    if not path.is_file():
        raise NotFound(f"the file of evidence {evidence_id} is missing")
    record(
        conn,
        actor,
        "read_visit_evidence",
        "visit",
        str(visit_id),
        now,
        detail={"evidence_id": evidence_id, "sha256": found.sha256},
    )
    return found, path


PURGED = ""  # ``stored_path`` of evidence whose file was purged (the row and SHA-256 stay)


def purge_evidence(conn: Connection, as_of: date, evidence_dir: Path, now: datetime) -> list[int]:
    """CN-R1: delete the files of evidence whose retention ended before ``as_of``; the row
    (SHA-256, size, dates) stays as the record that it existed, its ``stored_path`` emptied.
    One audit row per file, by the batch actor. The ids purged."""
    e = vrt.visit_evidence.c
    due = conn.execute(
        select(e.evidence_id, e.visit_id, e.stored_path, e.sha256).where(
            e.retention_until < as_of, e.stored_path != PURGED
        )
    ).all()
    purged: list[int] = []
    for row in due:
        (evidence_dir / row.stored_path).unlink(missing_ok=True)
        conn.execute(
            update(vrt.visit_evidence)
            .where(e.evidence_id == row.evidence_id)
            .values(stored_path=PURGED)
        )
        record(
            conn,
            BATCH_ACTOR,
            "purge_visit_evidence",
            "visit",
            str(row.visit_id),
            now,
            reason="CN-R1 retention ended",
            detail={"evidence_id": row.evidence_id, "sha256": row.sha256},
        )
        purged.append(int(row.evidence_id))
    return purged


# --------------------------------------------------------------------------------------------
# What the page shows


@dataclass(frozen=True, slots=True)
class VisitState:
    visit_id: int
    borrower_id: str
    loan_id: str | None
    status: str
    team_id: str | None
    planned_day: date | None
    members: dict[str, str]  # username → display name
    record: dict[str, Any] | None
    evidence: list[EvidenceRow]
    promise: dict[str, Any] | None  # the promise made on the visit, with its items
    loans: list[str]
    may_write: bool


def visit_state(conn: Connection, actor: Person, visit_id: int) -> VisitState:
    visit = _visit(conn, visit_id)
    may_write = _check_reader(conn, actor, visit)
    r, e = vrt.visit_records.c, vrt.visit_evidence.c
    rec = conn.execute(select(vrt.visit_records).where(r.visit_id == visit_id)).first()
    evidence = [
        _evidence_row(x._mapping, created=False)
        for x in conn.execute(
            select(vrt.visit_evidence).where(e.visit_id == visit_id).order_by(e.evidence_id)
        )
    ]
    promise = None
    if rec is not None and rec.promise_id is not None:
        p = conn.execute(select(nt.promises).where(nt.promises.c.promise_id == rec.promise_id))
        promise = dict(p.one()._mapping)
        promise["items"] = _promise_items(conn, int(rec.promise_id))[1]
    loans = [
        str(x)
        for x in conn.execute(
            select(t.loans.c.loan_id)
            .where(t.loans.c.borrower_id == visit.borrower_id)
            .order_by(t.loans.c.loan_id)
        ).scalars()
    ]
    return VisitState(
        visit_id=visit_id,
        borrower_id=visit.borrower_id,
        loan_id=visit.loan_id,
        status=visit.status,
        team_id=visit.team_id,
        planned_day=visit.planned_day,
        members=team_members(conn, visit.team_id),
        record=dict(rec._mapping) if rec is not None else None,
        evidence=evidence,
        promise=promise,
        loans=loans,
        may_write=may_write,
    )


# --------------------------------------------------------------------------------------------
# Reports


@dataclass
class ReportRow:
    key: str
    label: str
    planned: int | None  # by team only (reasons and states exist once a visit is made)
    made: int = 0  # checked in: the gate allowed it and the team was at the door
    found: int = 0  # met the borrower or family
    outcomes: dict[str, int] = field(default_factory=dict)
    promised_minor: int = 0  # promises made on these visits
    collected_minor: dict[int, int] = field(default_factory=dict)  # days → paid within

    @property
    def found_rate(self) -> float | None:
        return self.found / self.made if self.made else None

    @property
    def made_rate(self) -> float | None:
        return self.made / self.planned if self.planned else None


@dataclass
class VisitReport:
    since: date
    until: date
    total: ReportRow
    by_team: list[ReportRow]
    by_reason: list[ReportRow]
    by_emotion: list[ReportRow]  # key "state|de-escalated" (yes / no)
    plans_by_reason: list[PlanOutcomeRow] = field(default_factory=list)


PLAN_DAYS = 30  # a plan proposed within this many days of a visit counts for the visit


@dataclass(slots=True)
class PlanOutcomeRow:
    """Repayment plans proposed for visited borrowers within PLAN_DAYS of the visit, by the
    reason for the delinquency found at the visit and the plan's kind: which plans work for
    which reasons (kept or completed vs broken)."""

    reason: str
    kind: str
    proposed: int = 0
    active: int = 0
    worked: int = 0  # kept or completed
    broken: int = 0
    other: int = 0  # pending, rejected, cancelled

    @property
    def worked_rate(self) -> float | None:
        settled = self.worked + self.broken
        return self.worked / settled if settled else None


def _payments_by_borrower(
    conn: Connection, borrowers: Iterable[str], since: date, until: date
) -> dict[str, list[tuple[date, int]]]:
    lo, pay = t.loans.c, t.payments.c
    ids = sorted(set(borrowers))
    out: dict[str, list[tuple[date, int]]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in conn.execute(
            select(lo.borrower_id, pay.paid_on, pay.amount_minor)
            .join(t.loans, lo.loan_id == pay.loan_id)
            .where(lo.borrower_id.in_(chunk), pay.paid_on >= since, pay.paid_on <= until)
        ):
            out.setdefault(row.borrower_id, []).append((row.paid_on, int(row.amount_minor)))
    return out


def visit_report(conn: Connection, since: date, until: date) -> VisitReport:
    """Visits planned for days in [since, until]: planned vs made, found, outcomes, amounts
    promised on them and paid on the borrower's loans within 7 and 30 days of the visit day
    (the visit day included: [day, day + N)). By team, by reason for the delinquency, by
    emotional state × de-escalated. A payment counts for every visit it follows."""
    if until < since:
        raise ValidationError([Issue(_SRC, None, "to", "the end is before the start")])
    v, r, p, ft = vt.visit_requests.c, vrt.visit_records.c, nt.promises.c, vt.field_teams.c
    rows = conn.execute(
        select(
            v.visit_id,
            v.borrower_id,
            v.team_id,
            v.planned_day,
            ft.name.label("team_name"),
            r.started_at,
            r.met,
            r.delinquency_reason,
            r.emotional_state,
            r.de_escalated,
            r.outcome,
            p.total_minor.label("promised_minor"),
        )
        .select_from(vt.visit_requests)
        .join(vt.field_teams, ft.team_id == v.team_id)
        .outerjoin(vrt.visit_records, r.visit_id == v.visit_id)
        .outerjoin(nt.promises, p.promise_id == r.promise_id)
        .where(v.planned_day >= since, v.planned_day <= until, v.team_id.is_not(None))
        .order_by(v.visit_id)
    ).all()
    longest = max(COLLECT_DAYS)
    paid = _payments_by_borrower(
        conn,
        (x.borrower_id for x in rows if x.started_at is not None),
        since,
        until + timedelta(days=longest),
    )
    total = ReportRow("", "", 0)
    teams: dict[str, ReportRow] = {}
    reasons: dict[str, ReportRow] = {}
    emotions: dict[str, ReportRow] = {}
    for x in rows:
        team = teams.setdefault(x.team_id, ReportRow(x.team_id, x.team_name, 0))
        team.planned = (team.planned or 0) + 1
        total.planned = (total.planned or 0) + 1
        if x.started_at is None:
            continue
        groups = [total, team]
        if x.met is not None:
            reason = x.delinquency_reason or ""
            groups.append(reasons.setdefault(reason, ReportRow(reason, reason, None)))
            if x.met in FOUND:
                state = x.emotional_state or ""
                key = f"{state}|{'yes' if x.de_escalated else 'no'}"
                groups.append(emotions.setdefault(key, ReportRow(key, key, None)))
        day: date = x.planned_day
        collected = {
            n: sum(
                a for on, a in paid.get(x.borrower_id, []) if day <= on < day + timedelta(days=n)
            )
            for n in COLLECT_DAYS
        }
        for g in groups:
            g.made += 1
            if x.met in FOUND:
                g.found += 1
            if x.outcome is not None:
                g.outcomes[x.outcome] = g.outcomes.get(x.outcome, 0) + 1
            g.promised_minor += int(x.promised_minor or 0)
            for n, amount in collected.items():
                g.collected_minor[n] = g.collected_minor.get(n, 0) + amount
    for g in (total, *teams.values(), *reasons.values(), *emotions.values()):
        for n in COLLECT_DAYS:
            g.collected_minor.setdefault(n, 0)
    reason_order = {m.value: i for i, m in enumerate(VisitReason)}
    state_order = {m.value: i for i, m in enumerate(EmotionalState)}
    plan_rows = _plans_after_visits(conn, rows)
    return VisitReport(
        since,
        until,
        total,
        sorted(teams.values(), key=lambda g: g.key),
        sorted(reasons.values(), key=lambda g: reason_order.get(g.key, 99)),
        sorted(
            emotions.values(),
            key=lambda g: (state_order.get(g.key.split("|")[0], 99), g.key.split("|")[1]),
        ),
        sorted(plan_rows, key=lambda g: (reason_order.get(g.reason, 99), g.kind)),
    )


def _plans_after_visits(conn: Connection, visits: Sequence[Any]) -> list[PlanOutcomeRow]:
    """Each plan proposed for a visited borrower from the visit day through PLAN_DAYS after
    it counts once, for the latest such visit with a recorded reason."""
    found = [x for x in visits if x.started_at is not None and x.delinquency_reason]
    if not found:
        return []
    pl = plan_tables.plans.c
    plans = conn.execute(
        select(pl.plan_id, pl.borrower_id, pl.kind, pl.status, pl.start_on).where(
            pl.borrower_id.in_(sorted({x.borrower_id for x in found}))
        )
    ).all()
    out: dict[tuple[str, str], PlanOutcomeRow] = {}
    for plan in plans:
        before = [
            x
            for x in found
            if x.borrower_id == plan.borrower_id
            and x.planned_day <= plan.start_on < x.planned_day + timedelta(days=PLAN_DAYS)
        ]
        if not before:
            continue
        reason = max(before, key=lambda x: (x.planned_day, x.visit_id)).delinquency_reason
        row = out.setdefault((reason, plan.kind), PlanOutcomeRow(reason, plan.kind))
        row.proposed += 1
        if plan.status == "active":
            row.active += 1
        elif plan.status in ("kept", "completed"):
            row.worked += 1
        elif plan.status == "broken":
            row.broken += 1
        else:
            row.other += 1
    return list(out.values())
