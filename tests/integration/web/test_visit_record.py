"""The door visit (issue 6): start (the gate, the distance, the agents), the record (validation,
CN-X1 screening, offline re-sends, a promise at the door), evidence (SHA-256, CN-R1
retention), the end, the pages and the managers' report — on SQLite and PostgreSQL.

Each backend gets its own demo store (``build_desk_store`` in a temp dir) with two field
teams: T1 (field1, field2) and T2 (field3, field4), so the shared web stores are not disturbed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.engine import make_url

from arrears.adapters.db import compliance_tables as ct
from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import tables as t
from arrears.adapters.db import visit_record_tables as vrt
from arrears.adapters.db import visit_tables as vt
from arrears.domain.compliance import DEFAULT_LEXICON, Category, cn_pack, decide
from arrears.domain.errors import Conflict, Forbidden, NotFound, ValidationError
from arrears.domain.people import Actor, Role
from arrears.domain.routing import EARTH_RADIUS_KM
from arrears.services import visit_record as vr
from arrears.services.auth import create_user
from arrears.services.compliance_explain import read_attempt
from arrears.web.app import create_app
from arrears.web.context import WebContext
from fixtures.web import AS_OF, DEMO_PASSWORD, FixedClock, build_desk_store, csrf_of, logged_in

NOW = FixedClock().now()  # 18:00 in Shanghai: inside the visiting hours (08:00-20:00)
TZ = "Asia/Shanghai"
PACK = cn_pack()
RADIUS = 200


@dataclass
class Store:
    engine: Engine
    evidence_dir: Path
    actors: dict[str, Actor]
    mine: list[str]  # accounts in field1's desk scope (their desk team's), no state events
    others: list[str]  # accounts outside it
    app: Any


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    workdir = tmp_path_factory.mktemp(f"visits-{request.param}")
    admin = None
    name = ""
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'store.db'}"
    else:
        server = request.getfixturevalue("pg_url")
        name = f"visits_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = build_desk_store(url, workdir)
    evidence = workdir / "evidence"
    with engine.begin() as conn:
        for user in ("field2", "field3", "field4"):
            create_user(conn, user, DEMO_PASSWORD, Role.FIELD_AGENT, NOW, display_name=user)
        users = {
            r.username: r for r in conn.execute(select(d.users).where(d.users.c.username.like("%")))
        }
        for team_id, members in (("T1", ("field1", "field2")), ("T2", ("field3", "field4"))):
            conn.execute(
                insert(vt.field_teams).values(
                    team_id=team_id,
                    name=f"Team {team_id}",
                    home_label="branch",
                    home_latitude=Decimal("31.2304"),
                    home_longitude=Decimal("121.4737"),
                    shift_start=time(9),
                    shift_end=time(18),
                    capacity=8,
                    territory="",
                    active=True,
                    created_at=NOW,
                )
            )
            for m in members:
                conn.execute(
                    insert(vt.field_team_members).values(team_id=team_id, user_id=users[m].user_id)
                )
        a, e = d.account_assignments.c, ct.account_events.c
        quiet = ~sa.exists().where(e.borrower_id == t.borrowers.c.borrower_id)
        located = t.borrowers.c.latitude.is_not(None)
        mine = [
            str(x)
            for x in conn.execute(
                select(t.borrowers.c.borrower_id)
                .join(d.account_assignments, a.borrower_id == t.borrowers.c.borrower_id)
                .join(d.users, d.users.c.user_id == a.user_id)
                .where(d.users.c.team_id == users["field1"].team_id, quiet, located)
                .order_by(t.borrowers.c.borrower_id)
            ).scalars()
        ]
        others = [
            str(x)
            for x in conn.execute(
                select(t.borrowers.c.borrower_id)
                .outerjoin(d.account_assignments, a.borrower_id == t.borrowers.c.borrower_id)
                .join(d.users, d.users.c.user_id == a.user_id)
                .where(d.users.c.team_id != users["field1"].team_id, quiet, located)
                .order_by(t.borrowers.c.borrower_id)
            ).scalars()
        ]
    actors = {u: Actor(r.username, Role(r.role), r.user_id, r.team_id) for u, r in users.items()}
    assert len(mine) >= 7 and len(others) >= 2, "the demo book has too few accounts"
    app = create_app(
        WebContext(
            engine=engine,
            clock=FixedClock(),
            default_locale="en",
            lender_timezone=TZ,
            cookie_secure=True,
            evidence_dir=evidence,
            visit_checkin_radius_m=RADIUS,
        )
    )
    yield Store(engine, evidence, actors, mine, others, app)
    engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def new_visit(
    s: Store, borrower: str | None = None, team: str = "T1", day: date = AS_OF
) -> tuple[int, str]:
    borrower = borrower or s.mine[0]
    with s.engine.begin() as conn:
        result = conn.execute(
            insert(vt.visit_requests).values(
                borrower_id=borrower,
                source="manual",
                reason="test",
                requested_by="manager",
                requested_at=NOW,
                priority_minor=100,
                duration_min=45,
                status="planned",
                planned_day=day,
                team_id=team,
                seq=1,
                planned_start=NOW,
                planned_end=NOW + timedelta(minutes=45),
                created_at=NOW,
            )
        )
    return int(result.inserted_primary_key[0]), borrower


def address_of(s: Store, borrower: str) -> tuple[Decimal, Decimal]:
    with s.engine.connect() as conn:
        row = conn.execute(
            select(t.borrowers.c.latitude, t.borrowers.c.longitude).where(
                t.borrowers.c.borrower_id == borrower
            )
        ).one()
    return row.latitude, row.longitude


def north_of(lat: Decimal, lon: Decimal, metres: float) -> tuple[Decimal, Decimal]:
    """The point ``metres`` due north (along the meridian: exact for the haversine)."""
    dlat = math.degrees(metres / (EARTH_RADIUS_KM * 1000))
    return Decimal(f"{float(lat) + dlat:.9f}"), lon


def start(
    s: Store,
    visit_id: int,
    borrower: str,
    metres: float = 20,
    *,
    agents: tuple[str, ...] = ("field1", "field2"),
    actor: str = "field1",
    reason: str | None = None,
    now: datetime = NOW,
    recording: bool = True,
    position: bool = True,
) -> vr.StartResult:
    lat, lon = north_of(*address_of(s, borrower), metres) if position else (None, None)
    with s.engine.begin() as conn:
        return vr.start_visit(
            conn,
            s.actors[actor],
            visit_id,
            lat,
            lon,
            list(agents),
            recording,
            reason,
            now,
            RADIUS,
            PACK,
            TZ,
        )


def save(
    s: Store, visit_id: int, rec: vr.RecordInput, ref: str | None = None, actor: str = "field1"
) -> vr.SaveResult:
    with s.engine.begin() as conn:
        return vr.save_record(conn, s.actors[actor], visit_id, rec, NOW, ref, lender_tz=TZ)


def fields(exc: pytest.ExceptionInfo[ValidationError]) -> set[str | None]:
    return {i.column for i in exc.value.issues}


def decisions_for(s: Store, borrower: str) -> list[Any]:
    g = ct.gate_decisions.c
    with s.engine.connect() as conn:
        return conn.execute(
            select(ct.gate_decisions)
            .where(g.borrower_id == borrower, g.channel == "visit")
            .order_by(g.decision_id)
        ).all()


def visit_row(s: Store, visit_id: int) -> Any:
    with s.engine.connect() as conn:
        return conn.execute(
            select(vt.visit_requests.c.status, vrt.visit_records)
            .outerjoin(
                vrt.visit_records, vrt.visit_records.c.visit_id == vt.visit_requests.c.visit_id
            )
            .where(vt.visit_requests.c.visit_id == visit_id)
        ).one()


MET_BORROWER = vr.RecordInput(
    met=vr.Met.BORROWER,
    outcome=vr.VisitOutcome.REFUSED,
    delinquency_reason=vr.VisitReason.JOB_LOSS,
    emotional_state=vr.EmotionalState.ANGRY,
    de_escalated=True,
    financial_situation="lost his job in October",
)


# --------------------------------------------------------------------------------------------
# Start: the gate


def test_the_gate_is_asked_at_start_and_its_decision_kept(store: Store, tmp_path: Path) -> None:
    visit_id, borrower = new_visit(store)
    before = len(decisions_for(store, borrower))
    result = start(store, visit_id, borrower)
    assert result.allowed
    found = decisions_for(store, borrower)
    assert len(found) == before + 1
    decision = found[-1]
    assert decision.decision_id == result.decision_id and decision.allowed
    assert decision.attempt["channel"] == "visit"
    assert sorted(decision.attempt["staff"]) == ["field1", "field2"]
    assert "CN-V1" in decision.rules  # two staff, identification, recording duties
    # The stored attempt replays (``arrears compliance explain``) with its staff.
    replay = tmp_path / "attempt.json"
    replay.write_text(json.dumps(decision.attempt), "utf-8")
    issues: list[Any] = []
    attempt = read_attempt(replay, "CN", issues)
    assert issues == [] and attempt is not None and attempt.staff == ("field1", "field2")
    assert decide(attempt, [], PACK).allowed
    assert not decide(dataclasses.replace(attempt, staff=("field1",)), [], PACK).allowed
    row = visit_row(store, visit_id)
    assert row.status == "started"
    assert row.start_decision_id == result.decision_id
    assert row.agents == "field1 field2" and row.recording_confirmed


@pytest.mark.parametrize(("event", "rule"), [("cease", "CN-H2"), ("dispute_opened", "CN-H1")])
def test_a_hold_on_the_account_refuses_the_start(store: Store, event: str, rule: str) -> None:
    borrower = store.mine[1] if event == "cease" else store.mine[2]
    visit_id, _ = new_visit(store, borrower)
    with store.engine.begin() as conn:
        conn.execute(
            insert(ct.account_events).values(
                borrower_id=borrower,
                kind=event,
                at=NOW - timedelta(days=2),
                recorded_by="compliance",
                created_at=NOW - timedelta(days=2),
            )
        )
    # (account_events is append-only: these accounts are used by this test only)
    result = start(store, visit_id, borrower)
    assert not result.allowed
    assert rule in result.blocked_by
    assert result.reasons["en"]
    kept = decisions_for(store, borrower)[-1]  # committed although the start was refused
    assert kept.decision_id == result.decision_id
    assert not kept.allowed and rule in kept.blocked_by
    row = visit_row(store, visit_id)
    assert row.status == "planned" and row.visit_id is None  # no record row


def test_outside_the_visiting_hours_the_start_is_refused(store: Store) -> None:
    visit_id, borrower = new_visit(store)
    late = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai
    result = start(store, visit_id, borrower, now=late)
    assert not result.allowed and "CN-T2" in result.blocked_by
    assert result.next_allowed_at == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # 08:00 local
    assert not decisions_for(store, borrower)[-1].allowed
    assert visit_row(store, visit_id).status == "planned"
    # The next morning the same team may go (the refusal left the visit planned).
    assert start(store, visit_id, borrower, now=late + timedelta(hours=11)).allowed


# --------------------------------------------------------------------------------------------
# Start: distance and agents


def test_geo_check_in_boundary(store: Store) -> None:
    near, borrower = new_visit(store)
    result = start(store, near, borrower, metres=199)
    assert result.allowed and result.distance_m == 199
    far, _ = new_visit(store)
    before = len(decisions_for(store, borrower))
    with pytest.raises(ValidationError) as exc:
        start(store, far, borrower, metres=201)
    assert fields(exc) == {"start_reason"}
    assert "201 m" in str(exc.value)
    assert len(decisions_for(store, borrower)) == before  # bad input: the gate is not asked
    result = start(store, far, borrower, metres=201, reason="the gate is around the block")
    assert result.allowed and result.distance_m == 201
    assert visit_row(store, far).start_reason == "the gate is around the block"
    blind, _ = new_visit(store)
    with pytest.raises(ValidationError) as exc:
        start(store, blind, borrower, position=False)
    assert fields(exc) == {"start_reason"}
    assert start(store, blind, borrower, position=False, reason="GPS off indoors").allowed
    assert visit_row(store, blind).start_distance_m is None


@pytest.mark.parametrize(
    "agents",
    [("field1",), ("field1", "field1"), ("field1", "field3"), ("field1", "collector1")],
)
def test_the_agents_must_be_the_teams_two_members(store: Store, agents: tuple[str, ...]) -> None:
    visit_id, borrower = new_visit(store)
    with pytest.raises(ValidationError) as exc:
        start(store, visit_id, borrower, agents=agents)
    assert fields(exc) == {"agents"}
    assert visit_row(store, visit_id).status == "planned"


def test_recording_must_be_on(store: Store) -> None:
    visit_id, borrower = new_visit(store)
    with pytest.raises(ValidationError) as exc:
        start(store, visit_id, borrower, recording=False)
    assert fields(exc) == {"recording"}


def test_only_the_visits_team_may_start_it(store: Store) -> None:
    visit_id, borrower = new_visit(store)
    with pytest.raises(NotFound):  # a field agent of another team
        start(store, visit_id, borrower, actor="field3", agents=("field3", "field4"))
    with pytest.raises(Forbidden):  # a manager reads visits, does not make them
        start(store, visit_id, borrower, actor="manager")
    assert start(store, visit_id, borrower, actor="field2", agents=("field2", "field1")).allowed
    with pytest.raises(Conflict):  # started already
        start(store, visit_id, borrower)


# --------------------------------------------------------------------------------------------
# The record


def started(store: Store, borrower: str | None = None) -> tuple[int, str]:
    visit_id, borrower = new_visit(store, borrower)
    assert start(store, visit_id, borrower).allowed
    return visit_id, borrower


@pytest.mark.parametrize(
    ("changes", "bad"),
    [
        ({"met": vr.Met.NOBODY}, {"outcome", "emotional_state"}),
        ({"emotional_state": None}, {"emotional_state"}),
        ({"delinquency_reason": None}, {"delinquency_reason"}),
        ({"outcome": vr.VisitOutcome.PAID_NOW}, {"amount_paid"}),
        ({"outcome": vr.VisitOutcome.PAID_NOW, "amount_paid": Decimal("1.005")}, {"amount_paid"}),
        ({"amount_paid": Decimal("10")}, {"amount_paid"}),
        ({"outcome": vr.VisitOutcome.PROMISE}, {"date_1"}),
        ({"promise_items": ((AS_OF + timedelta(days=3), Decimal("50")),)}, {"outcome"}),
        ({"note": "x" * 4001}, {"note"}),
    ],
)
def test_record_validation_names_the_fields(
    store: Store, changes: dict[str, Any], bad: set[str]
) -> None:
    visit_id, _ = started(store)
    with pytest.raises(ValidationError) as exc:
        save(store, visit_id, dataclasses.replace(MET_BORROWER, **changes))
    assert fields(exc) == bad
    assert visit_row(store, visit_id).outcome is None  # nothing stored


def test_parse_record_reports_every_bad_field() -> None:
    with pytest.raises(ValidationError) as exc:
        vr.parse_record(
            {"met": "neighbour", "emotional_state": "sad", "amount_paid": "ten", "date_1": "x"}
        )
    assert fields(exc) == {"met", "outcome", "emotional_state", "amount_paid", "date"}
    rec = vr.parse_record(
        {
            "met": "nobody",
            "outcome": "moved",
            "de_escalated": "",
            "follow_up": " ask the neighbours ",
            "date_1": "",
            "amount_1": "",
        }
    )
    assert rec == vr.RecordInput(
        met=vr.Met.NOBODY, outcome=vr.VisitOutcome.MOVED, follow_up="ask the neighbours"
    )


def test_the_record_before_the_start_is_refused(store: Store) -> None:
    visit_id, _ = new_visit(store)
    with pytest.raises(Conflict):
        save(store, visit_id, MET_BORROWER)


def test_a_note_with_prohibited_language_is_kept_and_flagged(store: Store) -> None:
    visit_id, borrower = started(store)
    term = DEFAULT_LEXICON.terms[Category.THREAT][0]
    note = f"he said {term} to us; we left calmly"
    rec = dataclasses.replace(MET_BORROWER, note=note)
    result = save(store, visit_id, rec)
    assert result.note_flagged == "threat"
    row = visit_row(store, visit_id)
    assert row.note == note and row.note_flagged == "threat"
    with store.engine.connect() as conn:  # it reaches compliance's list of flagged notes
        flagged = conn.execute(
            select(d.notes.c.body, d.notes.c.flagged).where(
                d.notes.c.borrower_id == borrower, d.notes.c.body == note
            )
        ).one()
        audit = conn.execute(
            select(d.audit_log.c.detail).where(
                d.audit_log.c.action == "save_visit_record",
                d.audit_log.c.subject_id == str(visit_id),
            )
        ).scalar_one()
    assert flagged.flagged == "threat"
    assert audit["flagged"] == "threat" and term in audit["terms"]
    assert audit["lexicon"] == DEFAULT_LEXICON.version
    clean = save(store, visit_id, MET_BORROWER)
    assert clean.note_flagged is None and visit_row(store, visit_id).note_flagged is None


def _promise(days: int = 5, amount: str = "300.50") -> vr.RecordInput:
    return vr.RecordInput(
        met=vr.Met.BORROWER,
        outcome=vr.VisitOutcome.PROMISE,
        delinquency_reason=vr.VisitReason.ILLNESS,
        emotional_state=vr.EmotionalState.ANXIOUS,
        promise_items=((AS_OF + timedelta(days=days), Decimal(amount)),),
    )


def promises_of(store: Store, borrower: str) -> list[Any]:
    p = nt.promises.c
    with store.engine.connect() as conn:
        return conn.execute(
            select(nt.promises).where(p.borrower_id == borrower).order_by(p.promise_id)
        ).all()


def test_the_same_client_ref_twice_is_one_record(store: Store) -> None:
    visit_id, borrower = started(store)
    ref = uuid.uuid4().hex
    before = len(promises_of(store, borrower))
    first = save(store, visit_id, _promise(), ref)
    again = save(store, visit_id, _promise(), ref)
    assert not first.repeated and again.repeated
    assert again.promise_id == first.promise_id is not None
    assert len(promises_of(store, borrower)) == before + 1
    with store.engine.connect() as conn:
        saves = conn.execute(
            select(func.count()).where(
                d.audit_log.c.action == "save_visit_record",
                d.audit_log.c.subject_id == str(visit_id),
            )
        ).scalar_one()
        records = conn.execute(
            select(func.count()).where(vrt.visit_records.c.visit_id == visit_id)
        ).scalar_one()
    assert saves == 1 and records == 1
    # A new save with the same promise (another ref) keeps the promise; a changed one
    # supersedes it.
    assert save(store, visit_id, _promise(), uuid.uuid4().hex).promise_id == first.promise_id
    changed = save(store, visit_id, _promise(amount="280"), uuid.uuid4().hex)
    assert changed.promise_id != first.promise_id
    statuses = {r.promise_id: r.status for r in promises_of(store, borrower)}
    assert statuses[first.promise_id] == "cancelled" and statuses[changed.promise_id] == "open"
    other, _ = started(store)
    with pytest.raises(ValidationError) as exc:  # a ref belongs to one visit
        save(store, other, MET_BORROWER, ref)
    assert fields(exc) == {"client_ref"}


@pytest.mark.parametrize("in_scope", [True, False])
def test_a_promise_made_at_the_door(store: Store, in_scope: bool) -> None:
    borrower = store.mine[3] if in_scope else store.others[0]
    visit_id, _ = started(store, borrower)
    result = save(store, visit_id, _promise(days=7, amount="450"))
    made = promises_of(store, borrower)[-1]
    assert made.promise_id == result.promise_id
    assert made.channel == "visit" and made.recorded_by == "field1"
    assert made.total_minor == 45000 and made.made_on == AS_OF
    with store.engine.connect() as conn:
        items = conn.execute(
            select(nt.promise_items.c.due_on, nt.promise_items.c.amount_minor).where(
                nt.promise_items.c.promise_id == made.promise_id
            )
        ).all()
    assert [(i.due_on, i.amount_minor) for i in items] == [(AS_OF + timedelta(days=7), 45000)]
    assert visit_row(store, visit_id).promise_id == made.promise_id


# --------------------------------------------------------------------------------------------
# Evidence


def test_evidence_is_stored_with_its_sha256_and_kept_two_years(store: Store) -> None:
    visit_id, _ = started(store)
    data = b"\xff\xd8\xff\xe0 a photo of the door " + uuid.uuid4().bytes
    with store.engine.begin() as conn:
        row = vr.add_evidence(
            conn, store.actors["field2"], visit_id, "../door.jpg", "image/jpeg", data, NOW,
            store.evidence_dir,
        )  # fmt: skip
    digest = hashlib.sha256(data).hexdigest()
    assert row.sha256 == digest and row.size_bytes == len(data) and row.kind == "photo"
    assert row.filename == "door.jpg"
    stored = store.evidence_dir / str(visit_id) / digest
    assert row.stored_path == f"{visit_id}/{digest}"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
    assert row.retention_until == date(2028, 11, 28)  # the visit day + 2 years (CN-R1)
    with store.engine.begin() as conn:
        again = vr.add_evidence(
            conn, store.actors["field1"], visit_id, "door.jpg", "image/jpeg", data, NOW,
            store.evidence_dir,
        )  # fmt: skip
        assert not again.created and again.evidence_id == row.evidence_id
        with pytest.raises(ValueError, match="CN-R1"):
            vr.add_evidence(
                conn, store.actors["field1"], visit_id, "a.mp3", "audio/mpeg", b"x", NOW,
                store.evidence_dir, retention_years=1,
            )  # fmt: skip
        with pytest.raises(NotFound):
            vr.add_evidence(
                conn, store.actors["field3"], visit_id, "a.mp3", "audio/mpeg", b"x", NOW,
                store.evidence_dir,
            )  # fmt: skip


def test_evidence_is_purged_after_its_retention_and_its_record_stays(store: Store) -> None:
    visit_id, _ = started(store)
    data = b"audio of the visit " + uuid.uuid4().bytes
    with store.engine.begin() as conn:
        row = vr.add_evidence(
            conn, store.actors["field1"], visit_id, "talk.mp3", "audio/mpeg", data, NOW,
            store.evidence_dir,
        )  # fmt: skip
    stored = store.evidence_dir / row.stored_path
    with store.engine.begin() as conn:
        # On the last day of its retention it stays; the day after, it goes.
        kept = vr.purge_evidence(conn, row.retention_until, store.evidence_dir, NOW)
        assert row.evidence_id not in kept and stored.is_file()
        gone = vr.purge_evidence(
            conn, row.retention_until + timedelta(days=1), store.evidence_dir, NOW
        )
        assert row.evidence_id in gone and not stored.exists()
        left = conn.execute(
            select(vrt.visit_evidence).where(vrt.visit_evidence.c.evidence_id == row.evidence_id)
        ).one()
        assert left.sha256 == row.sha256 and left.stored_path == vr.PURGED
        audit = (
            conn.execute(
                select(d.audit_log.c.detail).where(d.audit_log.c.action == "purge_visit_evidence")
            )
            .scalars()
            .all()
        )
        assert any(a["evidence_id"] == row.evidence_id for a in audit)
        with pytest.raises(NotFound, match="purged"):
            vr.evidence_file(
                conn, store.actors["field1"], visit_id, row.evidence_id, store.evidence_dir, NOW
            )


def test_leap_day_retention_keeps_at_least_two_years() -> None:
    assert vr._plus_years(date(2028, 2, 29), 2) == date(2030, 3, 1)
    assert vr._plus_years(date(2026, 11, 28), 2) == date(2028, 11, 28)


# --------------------------------------------------------------------------------------------
# End


def end(s: Store, visit_id: int, borrower: str, metres: float, reason: str | None = None) -> Any:
    lat, lon = north_of(*address_of(s, borrower), metres)
    with s.engine.begin() as conn:
        return vr.end_visit(
            conn, s.actors["field1"], visit_id, lat, lon, reason, NOW + timedelta(minutes=40),
            radius_m=RADIUS,
        )  # fmt: skip


def test_end_visit_needs_the_record_and_a_near_position(store: Store) -> None:
    visit_id, borrower = started(store)
    with pytest.raises(ValidationError) as exc:
        end(store, visit_id, borrower, 10)
    assert fields(exc) == {"outcome"}
    save(store, visit_id, MET_BORROWER)
    with pytest.raises(ValidationError) as exc:
        end(store, visit_id, borrower, 450)
    assert fields(exc) == {"end_reason"}
    result = end(store, visit_id, borrower, 450, reason="walked to the car park")
    assert result.distance_m == 450 and not result.repeated
    row = visit_row(store, visit_id)
    assert row.status == "done" and row.end_reason == "walked to the car park"
    assert row.ended_at == NOW + timedelta(minutes=40)
    # The visit joins the account's contact attempts (desk history, the gate's counts).
    c = d.contact_attempts.c
    with store.engine.connect() as conn:
        attempt = conn.execute(
            select(d.contact_attempts).where(c.external_id == f"visit:{visit_id}")
        ).one()
    assert (attempt.channel, attempt.borrower_id, attempt.right_party, attempt.answered) == (
        "visit",
        borrower,
        True,
        True,
    )
    assert end(store, visit_id, borrower, 10).repeated  # a re-sent check-out changes nothing
    assert visit_row(store, visit_id).end_distance_m == 450
    save(store, visit_id, _promise())  # the record may still be completed after the end


# --------------------------------------------------------------------------------------------
# Pages


def _client(store: Store, user: str) -> Any:
    return logged_in(store.app, user)


def test_the_visit_page_forms_with_and_without_javascript(store: Store) -> None:
    visit_id, borrower = new_visit(store)
    client = _client(store, "field1")
    page = client.get(f"/visits/{visit_id}/mobile")
    assert page.status_code == 200
    assert 'name="viewport"' in page.text and "/static/visit.js" in page.text
    assert 'id="start-form"' in page.text and 'id="record-form"' not in page.text
    csrf = csrf_of(page.text)
    lat, lon = north_of(*address_of(store, borrower), 30)
    form = {
        "csrf_token": csrf,
        "latitude": str(lat),
        "longitude": str(lon),
        "agent_1": "field1",
        "agent_2": "field2",
        "recording": "on",
    }
    missing = client.post(f"/visits/{visit_id}/start", data={**form, "csrf_token": "x"})
    assert missing.status_code == 403  # CSRF
    far = client.post(f"/visits/{visit_id}/start", data={**form, "latitude": str(lat + 1)})
    assert far.status_code == 422 and "start_reason" in far.text
    ok = client.post(f"/visits/{visit_id}/start", data=form, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].endswith(
        f"/visits/{visit_id}/mobile#record"
    )
    page = client.get(f"/visits/{visit_id}/mobile")
    assert 'id="record-form"' in page.text and 'id="end-form"' in page.text
    record = {
        "csrf_token": csrf,
        "met": "borrower",
        "delinquency_reason": "business_trouble",
        "emotional_state": "calm",
        "outcome": "promise",
        "date_1": (AS_OF + timedelta(days=4)).isoformat(),
        "amount_1": "120",
        "client_ref": uuid.uuid4().hex,
    }
    as_json = {"Accept": "application/json"}
    bad = client.post(f"/visits/{visit_id}/record", data={**record, "outcome": ""}, headers=as_json)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"outcome"}
    first = client.post(f"/visits/{visit_id}/record", data=record, headers=as_json)
    again = client.post(f"/visits/{visit_id}/record", data=record, headers=as_json)
    assert first.status_code == again.status_code == 200
    assert first.json()["ok"] and not first.json()["repeated"] and again.json()["repeated"]
    assert first.json()["promise_id"] == again.json()["promise_id"]
    assert len([p for p in promises_of(store, borrower) if p.note == f"visit {visit_id}"]) == 1
    html = client.post(f"/visits/{visit_id}/record", data={**record, "amount_1": "abc"})
    assert html.status_code == 422 and 'value="abc"' in html.text  # what was typed stays
    upload = client.post(
        f"/visits/{visit_id}/evidence",
        data={"csrf_token": csrf},
        files={"file": ("voice.m4a", b"audio bytes " + uuid.uuid4().bytes, "audio/mp4")},
        headers=as_json,
    )
    assert upload.status_code == 200, upload.text
    evidence_id = upload.json()["evidence_id"]
    got = client.get(f"/visits/{visit_id}/evidence/{evidence_id}")
    assert (
        got.status_code == 200
        and hashlib.sha256(got.content).hexdigest() == upload.json()["sha256"]
    )
    done = client.post(
        f"/visits/{visit_id}/end",
        data={"csrf_token": csrf, "latitude": str(lat), "longitude": str(lon)},
        headers=as_json,
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    page = client.get(f"/visits/{visit_id}/mobile")
    assert 'id="visit-done"' in page.text and 'id="end-form"' not in page.text
    # The manager reads the visit and its evidence; another team's agent does not see it.
    manager = _client(store, "manager")
    view = manager.get(f"/visits/{visit_id}/mobile")
    assert view.status_code == 200 and 'id="record-view"' in view.text
    assert manager.get(f"/visits/{visit_id}/evidence/{evidence_id}").status_code == 200
    assert manager.post(f"/visits/{visit_id}/record", data=record).status_code == 403
    stranger = _client(store, "field3")
    assert stranger.get(f"/visits/{visit_id}/mobile").status_code == 404
    assert stranger.get(f"/visits/{visit_id}/evidence/{evidence_id}").status_code == 404


def test_a_refused_start_shows_the_gates_reasons(store: Store) -> None:
    borrower = store.mine[4]
    visit_id, _ = new_visit(store, borrower)
    with store.engine.begin() as conn:
        conn.execute(
            insert(ct.account_events).values(
                borrower_id=borrower, kind="cease", at=NOW - timedelta(days=1),
                recorded_by="compliance", created_at=NOW - timedelta(days=1),
            )
        )  # fmt: skip
    client = _client(store, "field1")
    csrf = csrf_of(client.get(f"/visits/{visit_id}/mobile").text)
    lat, lon = north_of(*address_of(store, borrower), 10)
    form = {
        "csrf_token": csrf, "latitude": str(lat), "longitude": str(lon),
        "agent_1": "field1", "agent_2": "field2", "recording": "on",
    }  # fmt: skip
    page = client.post(f"/visits/{visit_id}/start", data=form)
    assert page.status_code == 409 and 'id="gate-refused"' in page.text and "CN-H2" in page.text
    answer = client.post(
        f"/visits/{visit_id}/start", data=form, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 409 and "CN-H2" in answer.json()["blocked_by"]
    assert len([x for x in decisions_for(store, borrower) if not x.allowed]) == 2


def test_the_route_page_lists_the_teams_stops(store: Store) -> None:
    day = AS_OF + timedelta(days=60)  # outside the report test's period
    visit_id, _ = new_visit(store, day=day)
    page = _client(store, "field2").get(f"/visits/mobile?day={day.isoformat()}")
    assert page.status_code == 200
    assert f'href="/visits/{visit_id}/mobile"' in page.text
    other = _client(store, "field3").get(f"/visits/mobile?day={day.isoformat()}")
    assert other.status_code == 200 and f"/visits/{visit_id}/mobile" not in other.text


# --------------------------------------------------------------------------------------------
# The report


def _pay(conn: Any, borrower: str, on: date, minor: int) -> None:
    loan = conn.execute(
        select(func.min(t.loans.c.loan_id)).where(t.loans.c.borrower_id == borrower)
    ).scalar_one()
    conn.execute(
        insert(t.payments).values(
            payment_id=f"VP-{uuid.uuid4().hex[:12]}",
            loan_id=loan,
            paid_at=datetime.combine(on, time(4), tzinfo=UTC),
            paid_on=on,
            amount_minor=minor,
            channel="bank",
            created_at=NOW,
        )
    )


def _sql_figures(engine: Engine, since: date, until: date) -> dict[str, dict[str, Any]]:
    """The report's figures per team, counted here with plain SQL."""
    out: dict[str, dict[str, Any]] = {}
    q = sa.text(
        "SELECT v.team_id, COUNT(*) AS planned, COUNT(r.visit_id) AS made, "
        "SUM(CASE WHEN r.met IN ('borrower', 'family') THEN 1 ELSE 0 END) AS found, "
        "COALESCE(SUM(p.total_minor), 0) AS promised "
        "FROM visit_requests v LEFT JOIN visit_records r ON r.visit_id = v.visit_id "
        "LEFT JOIN promises p ON p.promise_id = r.promise_id "
        "WHERE v.planned_day BETWEEN :since AND :until AND v.team_id IS NOT NULL "
        "GROUP BY v.team_id"
    )
    paid = sa.text(
        "SELECT COALESCE(SUM(pay.amount_minor), 0) FROM payments pay "
        "JOIN loans l ON l.loan_id = pay.loan_id "
        "WHERE l.borrower_id = :b AND pay.paid_on >= :first AND pay.paid_on < :stop"
    )
    made = sa.text(
        "SELECT v.team_id, v.borrower_id, v.planned_day FROM visit_requests v "
        "JOIN visit_records r ON r.visit_id = v.visit_id "
        "WHERE v.planned_day BETWEEN :since AND :until"
    )
    with engine.connect() as conn:
        for r in conn.execute(q, {"since": since, "until": until}):
            out[r.team_id] = {
                "planned": r.planned, "made": r.made, "found": int(r.found or 0),
                "promised": int(r.promised), 7: 0, 30: 0,
            }  # fmt: skip
        for r in conn.execute(made, {"since": since, "until": until}):
            day = (
                r.planned_day
                if isinstance(r.planned_day, date)
                else date.fromisoformat(r.planned_day)
            )
            for n in (7, 30):
                out[r.team_id][n] += int(
                    conn.execute(
                        paid, {"b": r.borrower_id, "first": day, "stop": day + timedelta(days=n)}
                    ).scalar_one()
                )
    return out


def test_the_report_agrees_with_an_independent_count(store: Store) -> None:
    since = date(2027, 1, 4)
    day = since + timedelta(days=1)
    a, b, c = store.mine[5], store.mine[6], store.others[1]
    v1, _ = new_visit(store, a, day=day)  # made, promise, paid on day+2 and day+20
    v2, _ = new_visit(store, b, day=day)  # made, nobody there
    new_visit(store, c, day=day)  # planned, not made
    v4, _ = new_visit(store, c, team="T2", day=since)  # another team, made, refused
    new_visit(store, a, day=since - timedelta(days=1))  # before the period
    assert start(store, v1, a).allowed and start(store, v2, b).allowed
    assert start(store, v4, c, actor="field3", agents=("field3", "field4")).allowed
    save(store, v1, _promise(days=3, amount="500"))
    save(store, v2, vr.RecordInput(met=vr.Met.NOBODY, outcome=vr.VisitOutcome.NOT_FOUND))
    with store.engine.begin() as conn:
        _pay(conn, a, day + timedelta(days=2), 30000)
        _pay(conn, a, day + timedelta(days=20), 12345)
        _pay(conn, a, day + timedelta(days=31), 99999)  # too late for both windows
        _pay(conn, b, day - timedelta(days=1), 777)  # before the visit
    until = since + timedelta(days=6)
    with store.engine.connect() as conn:
        report = vr.visit_report(conn, since, until)
    expected = _sql_figures(store.engine, since, until)
    got = {
        g.key: {
            "planned": g.planned, "made": g.made, "found": g.found,
            "promised": g.promised_minor, 7: g.collected_minor[7], 30: g.collected_minor[30],
        }
        for g in report.by_team
    }  # fmt: skip
    assert got == expected
    t1 = next(g for g in report.by_team if g.key == "T1")
    assert (t1.planned, t1.made, t1.found) == (3, 2, 1)
    assert t1.collected_minor == {7: 30000, 30: 42345}
    assert t1.outcomes == {"promise": 1, "not_found": 1}
    assert report.total.planned == sum(x["planned"] for x in expected.values())
    reasons = {g.key: g.made for g in report.by_reason}
    assert reasons.get("illness") == 1 and reasons.get("") == 1
    assert {g.key: g.found for g in report.by_emotion} == {"anxious|no": 1}
    # Which plans worked for which reasons: plans proposed within 30 days of a visit count
    # for the reason found at it; later ones and those of borrowers without a reason do not.
    from arrears.adapters.db import plan_tables as pt

    loan_of = {}
    with store.engine.connect() as conn:
        for borrower in (a, b):
            loan_of[borrower] = conn.execute(
                select(t.loans.c.loan_id).where(t.loans.c.borrower_id == borrower).limit(1)
            ).scalar_one()
    plans = [
        (a, "instalment", "broken", day + timedelta(days=3)),
        (a, "instalment", "completed", day + timedelta(days=10)),
        (a, "settlement", "kept", day + timedelta(days=40)),  # too late for the visit
        (b, "settlement", "kept", day + timedelta(days=3)),  # no reason found at that visit
    ]
    with store.engine.begin() as conn:
        for borrower, kind, status, start_on in plans:
            conn.execute(
                insert(pt.plans).values(
                    borrower_id=borrower,
                    loan_id=loan_of[borrower],
                    kind=kind,
                    status=status,
                    terms={},
                    start_on=start_on,
                    payable_minor=1,
                    waived_minor=0,
                    proposed_by="field1",
                    proposed_role="field_agent",
                    proposed_at=NOW,
                    approval_required=False,
                )
            )
    with store.engine.connect() as conn:
        again = vr.visit_report(conn, since, until)
    rows = [(p.reason, p.kind, p.proposed, p.worked, p.broken) for p in again.plans_by_reason]
    assert rows == [("illness", "instalment", 2, 1, 1)]
    assert again.plans_by_reason[0].worked_rate == 0.5


def test_the_report_page_and_csv(store: Store) -> None:
    manager = _client(store, "manager")
    page = manager.get("/visits/report?from=2027-01-04&to=2027-01-10")
    assert page.status_code == 200
    assert 'id="by-team"' in page.text and "<svg" in page.text
    csv_text = manager.get("/visits/report.csv?from=2027-01-04&to=2027-01-10")
    assert csv_text.status_code == 200
    assert csv_text.headers["content-type"].startswith("text/csv")
    lines = csv_text.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Group,Code,Name,Visits planned,Visits made,Found")
    assert any(line.startswith("Team,T1,") for line in lines)
    assert manager.get("/visits/report?from=bad").status_code == 422
    assert _client(store, "field1").get("/visits/report").status_code == 403


def test_the_visits_team_reads_the_dossier_and_the_account_only_while_on_route(
    store: Store, tmp_path: Path
) -> None:
    """An account outside field1's desk scope, on T1's route: field1 opens the account and
    downloads the dossier (name shown in full, an audited unmasking with the visit as the
    reason); field3 (team T2) gets 404; once the visit is done the account is closed again."""
    import shutil
    import subprocess

    borrower = store.others[1]
    visit_id, _ = new_visit(store, borrower)
    with store.engine.connect() as conn:
        name = conn.execute(
            select(t.borrowers.c.name).where(t.borrowers.c.borrower_id == borrower)
        ).scalar_one()
    field1 = _client(store, "field1")
    assert field1.get(f"/accounts/{borrower}").status_code == 200
    pdf = field1.get(f"/visits/{visit_id}/dossier?locale=zh_CN")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        path = tmp_path / "dossier.pdf"
        path.write_bytes(pdf.content)
        text = subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, check=True, text=True
        ).stdout
        assert name in text
    with store.engine.connect() as conn:
        reasons = (
            conn.execute(
                select(d.audit_log.c.reason).where(
                    d.audit_log.c.actor == "field1",
                    d.audit_log.c.subject_id == borrower,
                    d.audit_log.c.action == "unmask_pii",
                )
            )
            .scalars()
            .all()
        )
    assert f"visit {visit_id} dossier" in reasons
    assert _client(store, "field3").get(f"/visits/{visit_id}/dossier").status_code == 404
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(vt.visit_requests)
            .where(vt.visit_requests.c.borrower_id == borrower)
            .values(status="done")
        )
    assert field1.get(f"/accounts/{borrower}").status_code == 404
