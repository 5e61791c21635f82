"""Door visits, the planning part (services.visits and its pages), on SQLite and PostgreSQL:
requests (by hand with a reason, from the daily run, no duplicates), field teams (exactly two
field agents), planning a day (every route passes domain.routing.check_plan; pins, locks,
territories, visiting hours; the gate asked and recorded for every planned stop with the
team's two agents, a ceased account not visited), the route sheet (only the agent's team,
audited) and the pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import Engine, create_engine, insert, make_url, select, text, update

from arrears.adapters.db import compliance_tables as ct
from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.adapters.db import visit_tables as vt
from arrears.domain.compliance import cn_pack
from arrears.domain.errors import Conflict, Forbidden, NotFound, ValidationError
from arrears.domain.people import Actor, Role
from arrears.domain.routing import check_plan
from arrears.engine.routing import PlannerSettings, SolverSettings
from arrears.engine.strategy import PROPOSAL_SCHEMA
from arrears.services import visits
from arrears.services.action_sending import MessageTexts, send_actions
from arrears.services.auth import create_user
from arrears.web.app import create_app
from arrears.web.context import WebContext
from fixtures.web import AS_OF, DEMO_PASSWORD, FixedClock, build_desk_store, csrf_of, logged_in

NOW = FixedClock().now()  # 18:00 in Shanghai on AS_OF
DAY = AS_OF + timedelta(days=1)
ZONE = "Asia/Shanghai"
FAST = PlannerSettings(SolverSettings(seconds=0.5, seed=1))
AGENTS = ("va1", "va2", "vb1", "vb2", "vfree", "vc1", "vc2")
BEIJING_A = (Decimal("39.928"), Decimal("116.416"))  # 东城区
BEIJING_B = (Decimal("39.960"), Decimal("116.298"))  # 海淀区


def _store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    workdir = tmp_path_factory.mktemp(f"visits-{request.param}")
    if request.param == "sqlite":
        engine = build_desk_store(f"sqlite:///{workdir / 'store.db'}", workdir)
        _prepare(engine)
        yield engine
        engine.dispose()
        return
    server = request.getfixturevalue("pg_url")
    name = f"visits_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = build_desk_store(url, workdir)
    _prepare(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _prepare(engine: Engine) -> None:
    """The demo's own team out of the way; field agents for the tests' teams."""
    with engine.begin() as conn:
        conn.execute(update(vt.field_teams).values(active=False))
        for name in AGENTS:
            create_user(conn, name, DEMO_PASSWORD, Role.FIELD_AGENT, NOW, name.upper())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    yield from _store(request, tmp_path_factory)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def web_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    yield from _store(request, tmp_path_factory)


def _actor(conn: Any, username: str) -> Actor:
    u = conn.execute(select(d.users).where(d.users.c.username == username)).one()
    return Actor(u.username, Role(u.role), u.user_id, u.team_id)


def _uid(conn: Any, username: str) -> int:
    return int(
        conn.execute(select(d.users.c.user_id).where(d.users.c.username == username)).scalar_one()
    )


def _borrowers(conn: Any, city: str) -> list[str]:
    b = t.borrowers.c
    return [
        r[0]
        for r in conn.execute(select(b.borrower_id).where(b.city == city).order_by(b.borrower_id))
    ]


def _team(
    conn: Any, team_id: str, members: tuple[str, str], home: tuple[Decimal, Decimal], **kw: Any
) -> visits.TeamInput:
    values: dict[str, Any] = {
        "team_id": team_id,
        "name": f"外访{team_id}",
        "home_label": f"北京{team_id}网点",
        "home_latitude": home[0],
        "home_longitude": home[1],
        "shift_start": time(9, 0),
        "shift_end": time(18, 0),
        "capacity": 4,
        "territory": ("北京市",),
        "members": tuple(_uid(conn, m) for m in members),
    }
    values.update(kw)
    return visits.TeamInput(**values)


def _rows(engine: Engine, ids: list[int]) -> dict[int, Any]:
    v = vt.visit_requests.c
    with engine.connect() as conn:
        return {
            r.visit_id: r
            for r in conn.execute(select(vt.visit_requests).where(v.visit_id.in_(ids)))
        }


def _set_priority(conn: Any, visit_id: int, minor: int) -> None:
    v = vt.visit_requests
    conn.execute(update(v).where(v.c.visit_id == visit_id).values(priority_minor=minor))


# --------------------------------------------------------------------------------------------
# Requests


def test_manual_requests_need_a_reason_scope_and_no_duplicate(store: Engine) -> None:
    with store.begin() as conn:
        collector = _actor(conn, "collector1")
        mine = (
            conn.execute(
                select(d.account_assignments.c.borrower_id)
                .where(d.account_assignments.c.user_id == collector.user_id)
                .order_by(d.account_assignments.c.borrower_id)
            )
            .scalars()
            .first()
        )
        assert mine is not None
        with pytest.raises(ValidationError) as bad:
            visits.request_visit(conn, collector, mine, reason="  ", now=NOW, today=AS_OF)
        assert [i.column for i in bad.value.issues] == ["reason"]
        with pytest.raises(ValidationError):
            visits.request_visit(
                conn, collector, mine, reason="no phone contact", now=NOW, today=AS_OF,
                window=(time(14, 0), time(10, 0)),
            )  # fmt: skip
        vid = visits.request_visit(
            conn, collector, mine, reason="no phone contact for 3 weeks", now=NOW, today=AS_OF,
            window=(time(9, 30), time(12, 0)), duration_min=30,
        )  # fmt: skip
        with pytest.raises(Conflict):
            visits.request_visit(conn, collector, mine, reason="again", now=NOW, today=AS_OF)
        # Out of scope: another team's collector sees no such account; compliance may not ask.
        with pytest.raises(NotFound):
            visits.request_visit(
                conn, _actor(conn, "collector2"), mine, reason="x" * 5, now=NOW, today=AS_OF
            )
        with pytest.raises(Forbidden):
            visits.request_visit(
                conn, _actor(conn, "compliance"), mine, reason="x" * 5, now=NOW, today=AS_OF
            )
        audit = conn.execute(
            select(d.audit_log.c.reason, d.audit_log.c.detail).where(
                d.audit_log.c.action == "request_visit", d.audit_log.c.subject_id == mine
            )
        ).all()
    row = _rows(store, [vid])[vid]
    assert (row.source, row.status, row.requested_by, row.duration_min) == (
        "manual", "requested", "collector1", 30,
    )  # fmt: skip
    assert (row.window_start, row.window_end) == (time(9, 30), time(12, 0))
    assert len(audit) == 1 and audit[0].reason == "no phone contact for 3 weeks"
    # The priority is amount due × the chance a visit helps, from the last cycle.
    with store.connect() as conn:
        s = t.status_history.c
        last = conn.execute(select(s.as_of).order_by(s.as_of.desc()).limit(1)).scalar_one()
        due = sum(
            conn.execute(
                select(s.total_due_now_minor).where(s.borrower_id == mine, s.as_of == last)
            ).scalars()
        )
        dpd = max(
            conn.execute(select(s.dpd).where(s.borrower_id == mine, s.as_of == last)).scalars()
        )
    from arrears.domain.routing import visit_priority

    assert row.priority_minor == int(visit_priority(Decimal(due) / 100, dpd) * 100)
    with store.begin() as conn:  # out of the way of the other tests
        conn.execute(
            update(vt.visit_requests)
            .where(vt.visit_requests.c.visit_id == vid)
            .values(status="cancelled")
        )


def test_door_visit_proposals_become_requests_once(store: Engine) -> None:
    with store.connect() as conn:
        guangzhou = _borrowers(conn, "广州市")[:2]
        loans = {
            b: conn.execute(
                select(t.loans.c.loan_id).where(t.loans.c.borrower_id == b).limit(1)
            ).scalar_one()
            for b in guangzhou
        }
    segments = {guangzhou[0]: "broken-promise", guangzhou[1]: "M2-M4"}
    proposals = pa.Table.from_pylist(
        [
            {
                "borrower_id": b,
                "loan_id": loans[b],
                "as_of": AS_OF,
                "dpd": 40,
                "action": "door_visit",
                "channel": "visit",
                "purpose": "collection",
                "template": None,
                "segment": segments[b],
                "step": "D+1",
                "arm": "champion",
                "strategy": "default_cn",
                "strategy_version": "1",
                "reason": f"segment {segments[b]}, step D+1: door_visit",
            }
            for b in guangzhou
        ],
        schema=PROPOSAL_SCHEMA,
    )
    status = pa.Table.from_pylist(
        [
            {
                "borrower_id": b,
                "total_due_now": 500_000,
                "next_due_amount": 0,
                "next_due_date": None,
                "paid_off": False,
            }
            for b in guangzhou
        ]
    )
    texts = MessageTexts("贷款机构", "网点", "热线")
    with store.begin() as conn:
        first = send_actions(conn, proposals, status, {}, AS_OF, NOW, ZONE, cn_pack(), texts)
    with store.begin() as conn:
        again = send_actions(conn, proposals, status, {}, AS_OF, NOW, ZONE, cn_pack(), texts)
    assert (first.visits_requested, again.visits_requested) == (2, 0)
    v = vt.visit_requests.c
    with store.connect() as conn:
        rows = conn.execute(
            select(v.borrower_id, v.source, v.priority_minor, v.loan_id, v.reason).where(
                v.borrower_id.in_(guangzhou), v.status == "requested"
            )
        ).all()
    by = {r.borrower_id: r for r in rows}
    assert len(rows) == 2
    assert by[guangzhou[0]].source == "broken_promise"
    assert by[guangzhou[1]].source == "strategy"
    # 5 000.00 due at 40 days past due: × 0.30 = 1 500.00
    assert {r.priority_minor for r in rows} == {150_000}
    assert by[guangzhou[1]].loan_id == loans[guangzhou[1]]


# --------------------------------------------------------------------------------------------
# Teams


def test_a_team_is_exactly_two_active_field_agents(store: Engine) -> None:
    with store.begin() as conn:
        manager = _actor(conn, "manager")
        good = _team(conn, "TX", ("vc1", "vc2"), BEIJING_A)
        collector = _uid(conn, "collector1")
        cases = {
            "one member": (replace(good, members=good.members[:1]), "exactly two"),
            "same agent twice": (replace(good, members=(good.members[0],) * 2), "exactly two"),
            "a collector": (
                replace(good, members=(good.members[0], collector)),
                "collector1 is not an active field agent",
            ),
            "shift backwards": (replace(good, shift_start=time(18), shift_end=time(9)), "shift"),
            "no capacity": (replace(good, capacity=0), "visits per day"),
            "bad id": (replace(good, team_id="T 1"), "letters, digits"),
        }
        for label, (team, words) in cases.items():
            with pytest.raises(ValidationError) as bad:
                visits.create_team(conn, manager, team, NOW)
            assert words in str(bad.value), label
        assert visits.create_team(conn, manager, good, NOW) == "TX"
        # An agent of an active team cannot be in a second one; ids are unique.
        with pytest.raises(ValidationError) as taken:
            visits.create_team(conn, manager, _team(conn, "TY", ("vc1", "vfree"), BEIJING_A), NOW)
        assert "vc1 is already in team TX" in str(taken.value)
        with pytest.raises(Conflict):
            visits.create_team(conn, manager, good, NOW)
        with pytest.raises(Forbidden):
            visits.create_team(conn, _actor(conn, "collector1"), replace(good, team_id="TZ"), NOW)
        # Deactivated: not planned, and its agents are free again.
        visits.update_team(conn, manager, replace(good, active=False), NOW)
        saved = {ft.team_id: ft for ft in visits.list_teams(conn)}["TX"]
    assert not saved.active and not saved.ready and len(saved.members) == 2
    # Parsing a form names every problem at once.
    with pytest.raises(ValidationError) as parsed:
        visits.parse_team(
            {"team_id": "T9", "home_latitude": "north", "shift_start": "9am", "capacity": "x"},
            ["1", "two"],
        )
    assert {i.column for i in parsed.value.issues} >= {
        "home_latitude", "shift_start", "capacity", "members",
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# Planning a day


def test_plan_a_day_pins_locks_territory_hours_and_the_gate(store: Engine) -> None:
    with store.begin() as conn:
        manager = _actor(conn, "manager")
        visits.create_team(conn, manager, _team(conn, "TA", ("va1", "va2"), BEIJING_A), NOW)
        visits.create_team(conn, manager, _team(conn, "TB", ("vb1", "vb2"), BEIJING_B), NOW)
        beijing = _borrowers(conn, "北京市")
        shanghai = _borrowers(conn, "上海市")[0]
        late, ceased, pinned, evening = beijing[0], beijing[1], beijing[2], beijing[3]
        ids: dict[str, int] = {}
        for b in [*beijing[1:], shanghai]:
            window = (time(20, 30), time(22, 0)) if b == evening else None
            ids[b] = visits.request_visit(
                conn, manager, b, reason="test visit", now=NOW, today=AS_OF, window=window
            )
        for i, b in enumerate(beijing[1:]):
            _set_priority(conn, ids[b], 200_000 + 10_000 * i)
        _set_priority(conn, ids[pinned], 100)  # worth nothing, but pinned to TB
        visits.pin_visit(conn, manager, ids[pinned], "TB", NOW)
        _set_priority(conn, ids[ceased], 900_000)
        visits.pin_visit(conn, manager, ids[ceased], "TA", NOW)  # the solver will plan it
        conn.execute(
            insert(ct.account_events).values(
                borrower_id=ceased,
                kind="cease",
                at=NOW - timedelta(days=1),
                recorded_by="test",
                created_at=NOW,
            )
        )
        out = visits.plan_visits(conn, manager, DAY, NOW, FAST, ZONE, cn_pack())

    assert out.problem is not None and out.plan is not None
    assert out.problems == [] and check_plan(out.problem, out.plan) == []
    rows = _rows(store, list(ids.values()))
    planned = {vid: r for vid, r in rows.items() if r.status == "planned"}
    # Capacity 4 + 4; every stored stop is the plan's, in its order, on the day.
    assert 0 < len(planned) <= 8 and set(planned) == set(out.planned)
    for route in out.plan.routes:
        for seq, stop in enumerate(route.stops, start=1):
            r = rows[int(stop.visit_id)]
            assert (r.team_id, r.seq, r.planned_day) == (route.team_id, seq, DAY)
    assert rows[ids[pinned]].team_id == "TB"
    assert rows[ids[shanghai]].unplanned_reason == "outside_territory"
    assert rows[ids[evening]].unplanned_reason == "outside_visiting_hours"
    assert rows[ids[ceased]].status == "requested"
    assert rows[ids[ceased]].unplanned_reason.startswith("gate:")
    assert "CN-H2" in rows[ids[ceased]].unplanned_reason
    # Every planned stop was decided by the gate at its planned start with the team's agents.
    cd = ct.gate_decisions.c
    with store.connect() as conn:
        decisions = {
            r.decision_id: r
            for r in conn.execute(
                select(ct.gate_decisions).where(
                    cd.decision_id.in_(
                        [r.schedule_decision_id for r in rows.values() if r.schedule_decision_id]
                    )
                )
            )
        }
    for r in planned.values():
        dec = decisions[r.schedule_decision_id]
        assert dec.allowed and dec.channel == "visit" and dec.borrower_id == r.borrower_id
        assert "CN-V1" in dec.rules  # two staff named: the duty, not a block
        assert datetime.fromisoformat(dec.attempt["at"]) == r.planned_start
        assert dec.actor in (("va1", "vb1") if r.team_id else ())
    blocked = decisions[rows[ids[ceased]].schedule_decision_id]
    assert not blocked.allowed and "CN-H2" in blocked.blocked_by
    for r in rows.values():
        if r.status == "requested" and not r.unplanned_reason.startswith("gate:"):
            assert r.schedule_decision_id is None  # never planned: the gate was not asked

    # The manager's view matches; the unplanned are listed with their reasons.
    with store.connect() as conn:
        view = visits.day_plan(conn, DAY)
    assert {s.visit_id for r in view.routes for s in r.stops} == set(planned)
    assert all(r.svg.startswith("<svg") for r in view.routes)
    reasons = {u.visit_id: u.code for u in view.unplanned}
    assert reasons[ids[shanghai]] == "outside_territory"
    assert set(ids.values()) - set(planned) <= set(reasons)
    assert not set(reasons) & set(planned)

    # Lock TA, add an urgent visit, plan again: TA keeps its route exactly.
    ta_before = [s.visit_id for r in view.routes if r.team_id == "TA" for s in r.stops]
    with store.begin() as conn:
        visits.lock_route(conn, manager, DAY, "TA", NOW)
        ids[late] = visits.request_visit(conn, manager, late, reason="urgent", now=NOW, today=AS_OF)
        _set_priority(conn, ids[late], 5_000_000)
        again = visits.plan_visits(conn, manager, DAY, NOW, FAST, ZONE, cn_pack())
        view2 = visits.day_plan(conn, DAY)
    assert again.problems == [] and check_plan(again.problem, again.plan) == []  # type: ignore[arg-type]
    ta_after = [s.visit_id for r in view2.routes if r.team_id == "TA" for s in r.stops]
    assert ta_after == ta_before
    assert [r.locked for r in view2.routes if r.team_id == "TA"] == [True]
    urgent = _rows(store, [ids[late]])[ids[late]]
    assert urgent.team_id != "TA"
    assert urgent.team_id == "TB" or urgent.unplanned_reason

    # The route sheet: an agent sees only their team's stops, unmasked, and it is audited.
    with store.begin() as conn:
        agent = _actor(conn, "va1")
        sheet = visits.route_for(conn, agent, DAY, NOW)
        names = dict(conn.execute(select(t.borrowers.c.borrower_id, t.borrowers.c.name)).all())
        audit = conn.execute(
            select(d.audit_log.c.detail).where(
                d.audit_log.c.actor == "va1", d.audit_log.c.action == "read_visit_points"
            )
        ).all()
        assert visits.route_for(conn, _actor(conn, "vfree"), DAY, NOW) is None
        with pytest.raises(Forbidden):
            visits.route_for(conn, _actor(conn, "collector1"), DAY, NOW)
        tb_stop = next(s for r in view2.routes if r.team_id == "TB" for s in r.stops)
        with pytest.raises(NotFound):
            visits.visit_for(conn, agent, tb_stop.visit_id, NOW)
        assert visits.visit_for(conn, manager, tb_stop.visit_id, NOW).visit_id == tb_stop.visit_id
    assert sheet is not None and sheet.team_id == "TA" and sheet.agents == ("va1", "va2")
    assert [s.visit_id for s in sheet.stops] == ta_after
    assert all(s.name == names[s.borrower_id] for s in sheet.stops)
    assert all(s.planned_start.utcoffset() is not None for s in sheet.stops)
    assert [a.detail["purpose"] for a in audit][-1:] == ["route_sheet"]
    assert sheet.svg.startswith("<svg")


def test_no_plan_for_a_past_day(store: Engine) -> None:
    with store.begin() as conn, pytest.raises(ValidationError):
        visits.plan_visits(
            conn, _actor(conn, "manager"), AS_OF - timedelta(days=1), NOW, FAST, ZONE, cn_pack()
        )


# --------------------------------------------------------------------------------------------
# The pages


def _app(engine: Engine) -> Any:
    return create_app(
        WebContext(
            engine=engine,
            clock=FixedClock(),
            default_locale="en",
            lender_timezone=ZONE,
            cookie_secure=True,
            visit_plan_seconds=0.5,
        )
    )


def test_visit_pages(web_store: Engine) -> None:
    app = _app(web_store)
    collector = logged_in(app, "collector1")
    with web_store.connect() as conn:
        mine = set(re.findall(r'href="/accounts/([^"]+)"', collector.get("/queue").text))
        b = t.borrowers.c
        account, lat, lon = next(
            (r.borrower_id, r.latitude, r.longitude)
            for r in conn.execute(
                select(b.borrower_id, b.latitude, b.longitude).order_by(b.borrower_id)
            )
            if r.borrower_id in mine
        )
    page = collector.get(f"/accounts/{account}")
    assert 'id="visit-request-form"' in page.text
    csrf = csrf_of(page.text)
    post = f"/accounts/{account}/visits"
    r = collector.post(post, data={"csrf_token": csrf, "reason": ""}, follow_redirects=False)
    assert r.status_code == 422 and 'id="form-errors"' in r.text
    r = collector.post(
        post,
        data={
            "csrf_token": csrf,
            "reason": "not reachable by phone",
            "window_start": "10:00",
            "window_end": "16:00",
            "duration_min": "40",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and "visit=" in r.headers["location"]
    assert 'id="visit-requested"' in collector.get(r.headers["location"]).text
    r = collector.post(post, data={"csrf_token": csrf, "reason": "again"}, follow_redirects=False)
    assert r.status_code == 409

    manager = logged_in(app, "manager")
    queue = manager.get("/visits")
    assert queue.status_code == 200 and f'href="/accounts/{account}"' in queue.text
    teams = manager.get("/visits/teams")
    with web_store.connect() as conn:
        va1, va2 = (_uid(conn, u) for u in ("va1", "va2"))
    form = {
        "csrf_token": csrf_of(teams.text), "team_id": "W1", "name": "外访一队",
        "home_label": "网点", "home_latitude": str(lat), "home_longitude": str(lon),
        "shift_start": "09:00", "shift_end": "18:00", "capacity": "6", "territory": "",
        "active": "on",
    }  # fmt: skip
    bad = manager.post("/visits/teams", data={**form, "members": [str(va1)]})
    assert bad.status_code == 422 and "exactly two" in bad.text
    r = manager.post(
        "/visits/teams", data={**form, "members": [str(va1), str(va2)]}, follow_redirects=False
    )
    assert r.status_code == 303
    assert 'data-team="W1" data-ready="yes"' in manager.get("/visits/teams").text
    # Pin the request to W1, then plan tomorrow.
    vid = re.search(r'data-visit="(\d+)"', manager.get("/visits").text)
    assert vid is not None
    r = manager.post(
        "/visits/pin",
        data={"csrf_token": csrf_of(queue.text), "visit_id": vid.group(1), "team_id": "W1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    plan_page = manager.get(f"/visits/plan?day={DAY.isoformat()}")
    assert 'id="no-routes"' in plan_page.text
    r = manager.post(
        "/visits/plan",
        data={"csrf_token": csrf_of(plan_page.text), "day": DAY.isoformat()},
        follow_redirects=False,
    )
    assert r.status_code == 303
    shown = manager.get(r.headers["location"])
    assert 'id="plan-result"' in shown.text and 'id="route-W1"' in shown.text
    assert "<svg" in shown.text
    with web_store.connect() as conn:
        row = conn.execute(
            select(vt.visit_requests).where(vt.visit_requests.c.visit_id == int(vid.group(1)))
        ).one()
    assert (row.status, row.team_id) == ("planned", "W1"), row.unplanned_reason
    r = manager.post(
        "/visits/lock",
        data={
            "csrf_token": csrf_of(shown.text),
            "day": DAY.isoformat(),
            "team_id": "W1",
            "action": "lock",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert 'data-locked="yes"' in manager.get(r.headers["location"]).text
    # va1's route sheet: the stop, unmasked; vb1 (no team) has none.
    agent = logged_in(app, "va1")
    sheet = agent.get(f"/visits/route?day={DAY.isoformat()}")
    assert sheet.status_code == 200 and f'data-borrower="{account}"' in sheet.text
    assert 'id="no-team"' in logged_in(app, "vb1").get("/visits/route").text


# --------------------------------------------------------------------------------------------
# The demo and the command line


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    yield from _store(request, tmp_path_factory)


def test_the_demo_team_can_plan_a_day_and_so_can_the_cli(
    demo_store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from arrears.cli import cli
    from arrears.services.demo_desk import set_up_demo_field_team

    first = set_up_demo_field_team(demo_store, DEMO_PASSWORD, NOW)
    again = set_up_demo_field_team(demo_store, DEMO_PASSWORD, NOW)
    assert first.requests > 0 and again.requests == 0
    with demo_store.begin() as conn:
        team = {ft.team_id: ft for ft in visits.list_teams(conn)}[first.team_id]
        assert team.ready and team.agents == ("field1", "field2") and team.capacity == 8
        out = visits.plan_visits(conn, _actor(conn, "manager"), DAY, NOW, FAST, ZONE, cn_pack())
    assert out.planned and out.problems == []
    assert set(out.planned.values()) == {"T1"}

    with demo_store.begin() as conn:  # back to the queue, for the command to plan them again
        conn.execute(update(vt.visit_requests).values(status="requested"))
    url = demo_store.url.render_as_string(hide_password=False)
    monkeypatch.setenv("ARREARS_DATABASE_URL", url)
    monkeypatch.setenv("ARREARS_VISIT_PLAN_SECONDS", "0.5")
    result = CliRunner().invoke(cli, ["visits", "plan", "--day", "2099-01-05"])
    assert result.exit_code == 0, result.output
    assert "visit(s) planned" in result.output and "T1" in result.output
    with demo_store.connect() as conn:
        planned = conn.execute(
            select(vt.visit_requests.c.visit_id).where(
                vt.visit_requests.c.planned_day == date(2099, 1, 5),
                vt.visit_requests.c.status == "planned",
            )
        ).all()
    assert planned
    bad = CliRunner().invoke(cli, ["visits", "plan", "--day", "tomorrow"])
    assert bad.exit_code == 2
