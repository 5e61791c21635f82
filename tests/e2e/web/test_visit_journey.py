"""The door visit on a phone, in Chromium with a phone viewport (390×844, touch, geolocation
granted near the borrower's address), on both backends: the route → start the visit → fill
in the record → the connection drops → save (kept on the phone) → reload: everything typed is
still there → the connection is back → the queued save is sent (a promise is made) → evidence
→ end the visit.

A reload needs the page itself from the server (there is no service worker), so the reload
happens with the network back but the record's post still failing (``page.route`` aborts it),
as on a phone whose connection flaps. Screenshots: ``test-artifacts/screenshots/<backend>-
visit-*.png``.
"""

from __future__ import annotations

import math
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time as clock_time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, insert, select
from sqlalchemy.engine import make_url

from arrears.adapters.db import compliance_tables as ct
from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import tables as t
from arrears.adapters.db import visit_record_tables as vrt
from arrears.adapters.db import visit_tables as vt
from arrears.domain.people import Role
from arrears.domain.routing import EARTH_RADIUS_KM
from arrears.services.auth import create_user
from arrears.web.app import create_app
from arrears.web.context import WebContext
from fixtures.web import AS_OF, DEMO_PASSWORD, FixedClock, build_desk_store

SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class VisitLive:
    url: str
    backend: str
    engine: Engine
    visit_id: int
    borrower: str
    near: tuple[float, float]  # 30 m north of the address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _set_up(engine: Engine) -> tuple[int, str, tuple[float, float]]:
    now = FixedClock().now()
    with engine.begin() as conn:
        create_user(conn, "field2", DEMO_PASSWORD, Role.FIELD_AGENT, now, display_name="王磊")
        users = dict(
            conn.execute(
                select(d.users.c.username, d.users.c.user_id).where(
                    d.users.c.username.in_(["field1", "field2"])
                )
            ).all()
        )
        conn.execute(
            insert(vt.field_teams).values(
                team_id="T1", name="外访一组", home_label="总部", home_latitude=Decimal("31.2304"),
                home_longitude=Decimal("121.4737"), shift_start=clock_time(9),
                shift_end=clock_time(18), capacity=8, territory="", active=True, created_at=now,
            )
        )  # fmt: skip
        for user in ("field1", "field2"):
            conn.execute(insert(vt.field_team_members).values(team_id="T1", user_id=users[user]))
        a, b, e = d.account_assignments.c, t.borrowers.c, ct.account_events.c
        field1_team = conn.execute(
            select(d.users.c.team_id).where(d.users.c.username == "field1")
        ).scalar_one()
        row = conn.execute(
            select(b.borrower_id, b.latitude, b.longitude)
            .join(d.account_assignments, a.borrower_id == b.borrower_id)
            .join(d.users, d.users.c.user_id == a.user_id)
            .where(
                d.users.c.team_id == field1_team,
                b.latitude.is_not(None),
                ~sa.exists().where(e.borrower_id == b.borrower_id),
            )
            .order_by(b.borrower_id)
        ).first()
        assert row is not None
        visit_id = conn.execute(
            insert(vt.visit_requests).values(
                borrower_id=row.borrower_id, source="manual", reason="逾期未还，电话联系不上",
                requested_by="manager", requested_at=now, priority_minor=100, duration_min=45,
                status="planned", planned_day=AS_OF, team_id="T1", seq=1,
                planned_start=now, planned_end=now + timedelta(minutes=45), created_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
    dlat = math.degrees(30 / (EARTH_RADIUS_KM * 1000))
    return int(visit_id), row.borrower_id, (float(row.latitude) + dlat, float(row.longitude))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def visit_live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VisitLive]:
    """Its own demo store with a two-agent field team and a planned visit, served by uvicorn."""
    import uvicorn

    workdir = tmp_path_factory.mktemp(f"visit-e2e-{request.param}")
    admin, name = None, ""
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'store.db'}"
    else:
        server = request.getfixturevalue("pg_url")
        name = f"visit_e2e_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
    engine = build_desk_store(url, workdir)
    visit_id, borrower, near = _set_up(engine)
    app = create_app(
        WebContext(
            engine=engine,
            clock=FixedClock(),
            default_locale="zh_CN",
            lender_timezone="Asia/Shanghai",
            cookie_secure=True,
            evidence_dir=workdir / "evidence",
        )
    )
    port = _free_port()
    server_ = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server_.run, name=f"uvicorn-visit-{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            server_.should_exit = True
            pytest.fail(f"the app did not answer on {base}/healthz")
        time.sleep(0.05)
    try:
        yield VisitLive(base, request.param, engine, visit_id, borrower, near)
    finally:
        server_.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _shoot(page: Any, live: VisitLive, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{live.backend}-visit-{name}.png"), full_page=True)


def _record(live: VisitLive) -> Any:
    r = vrt.visit_records.c
    with live.engine.connect() as conn:
        return conn.execute(
            select(vrt.visit_records, vt.visit_requests.c.status)
            .select_from(vt.visit_requests)
            .outerjoin(vrt.visit_records, r.visit_id == vt.visit_requests.c.visit_id)
            .where(vt.visit_requests.c.visit_id == live.visit_id)
        ).one()


def _choose(page: Any, name: str, value: str) -> None:
    """Tap a big radio pill (the input itself is visually hidden)."""
    page.click(f"#record-form label.choice:has(input[name={name}][value={value}])")


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def test_a_visit_on_a_phone_from_route_to_end_with_a_promise(
    browser: Any, visit_live: VisitLive
) -> None:
    live = visit_live
    context = browser.new_context(
        base_url=live.url,
        locale="zh-CN",
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": live.near[0], "longitude": live.near[1], "accuracy": 12},
        permissions=["geolocation"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    # Errors in the page (a CSP violation, a script error, a missing file); the failed
    # requests while the phone is offline are the point of the test.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error"
            and "ERR_INTERNET_DISCONNECTED" not in m.text
            and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        _journey(page, context, live, problems)
    except Exception:
        _shoot(page, live, "FAILED")
        raise
    finally:
        context.close()


def _journey(page: Any, context: Any, live: VisitLive, problems: list[str]) -> None:
    visit = f"/visits/{live.visit_id}/mobile"

    # Log in and open today's route: one stop, with the address.
    page.goto("/login")
    page.fill("input[name=username]", "field1")
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("#login")
    page.goto("/visits/mobile")
    stop = page.locator(f"#stops li[data-visit='{live.visit_id}']")
    assert stop.count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the route page scrolls sideways ({width}px)"
    box = stop.locator("a.stop-link").bounding_box()
    assert box["height"] >= 44, "a stop is too small to tap"
    _shoot(page, live, "route")
    with page.expect_navigation():
        stop.locator("a.stop-link").click()
    assert page.url.endswith(visit)

    # Start: the phone's position is 30 m from the address (inside the radius).
    page.wait_for_function("document.getElementById('geo-status').dataset.distance !== undefined")
    assert page.locator("#geo-status").get_attribute("data-distance") == "30"
    assert page.locator("#start-form select[name=agent_2]").input_value() == "field2"
    page.check("#start-form input[name=recording]")
    _shoot(page, live, "start")
    with page.expect_navigation():
        page.click("#start-visit")
    assert page.locator("#record-form").count() == 1, page.content()[:2000]
    started = _record(live)
    assert started.status == "started" and started.start_distance_m == 30
    assert started.agents == "field1 field2" and started.start_decision_id is not None

    # The record, typed in; then the connection drops and the save stays on the phone.
    promised_on = (AS_OF + timedelta(days=6)).isoformat()
    note = f"借款人称下月初发工资后还款 {uuid.uuid4().hex[:6]}"
    _choose(page, "met", "borrower")
    page.select_option("#record-form select[name=delinquency_reason]", "job_loss")
    page.fill("#record-form textarea[name=financial_situation]", "十月失业，正在找工作")
    _choose(page, "emotional_state", "anxious")
    page.check("#record-form input[name=de_escalated]")
    _choose(page, "outcome", "promise")
    page.fill("#record-form input[name=date_1]", promised_on)
    page.fill("#record-form input[name=amount_1]", "800")
    page.fill("#record-form textarea[name=note]", note)
    context.set_offline(True)
    page.click("#save-record")
    page.wait_for_selector("#sync-status[data-state=queued]")
    assert page.locator("#sync-status").is_visible()
    page.fill("#record-form textarea[name=follow_up]", "下周回访")  # typed, not saved
    _shoot(page, live, "saved-offline")
    assert _record(live).outcome is None, "nothing may reach the server while offline"

    # Reload (the network flaps: the page loads, the record's post still fails).
    def refuse(route: Any) -> None:
        route.abort("internetdisconnected")

    page.route("**/visits/*/record", refuse)
    context.set_offline(False)
    page.reload()
    page.wait_for_selector("#sync-status[data-state=queued]")
    form = page.locator("#record-form")
    assert form.locator("textarea[name=note]").input_value() == note
    assert form.locator("textarea[name=follow_up]").input_value() == "下周回访"
    assert form.locator("input[name=amount_1]").input_value() == "800"
    assert form.locator("input[name=met][value=borrower]").is_checked()
    assert form.locator("input[name=outcome][value=promise]").is_checked()
    assert form.locator("input[name=de_escalated]").is_checked()
    assert _record(live).outcome is None
    _shoot(page, live, "restored")

    # Back online: the queued save is sent once; the page shows the promise.
    page.unroute("**/visits/*/record", refuse)
    with page.expect_navigation():  # a promise was made: the page reloads to show it
        page.evaluate("window.dispatchEvent(new Event('online'))")
    page.wait_for_selector("#promise-made")
    saved = _record(live)
    assert saved.met == "borrower" and saved.outcome == "promise"
    assert saved.delinquency_reason == "job_loss" and saved.emotional_state == "anxious"
    assert saved.de_escalated is True and saved.note == note
    # The follow-up typed after the queued save was not part of it: it is still on the phone
    # (kept in the form), and goes with the next save.
    assert saved.client_ref is not None and saved.follow_up is None
    assert page.locator("#record-form textarea[name=follow_up]").input_value() == "下周回访"
    with live.engine.connect() as conn:
        promises = conn.execute(
            select(nt.promises).where(nt.promises.c.borrower_id == live.borrower)
        ).all()
    assert len(promises) == 1 and promises[0].promise_id == saved.promise_id
    assert promises[0].channel == "visit" and promises[0].total_minor == 80000
    _shoot(page, live, "sent")
    page.click("#save-record")
    page.wait_for_selector("#sync-status[data-state=sent]")
    assert _record(live).follow_up == "下周回访"

    # Evidence: a photo, stored with its SHA-256.
    page.set_input_files(
        "#evidence-form input[name=file]",
        files=[{"name": "door.png", "mimeType": "image/png", "buffer": PNG}],
    )
    with page.expect_navigation():
        page.click("#upload-evidence")
    assert "SHA-256" in page.locator("#evidence-list").inner_text()

    # End: the check-out from the same place.
    with page.expect_navigation():
        page.click("#end-visit")
    page.wait_for_selector("#visit-done")
    done = _record(live)
    assert done.status == "done" and done.end_distance_m == 30 and done.ended_at is not None
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shoot(page, live, "done")
    pending = page.evaluate("Object.keys(localStorage).filter(k => k.endsWith('.queue')).length")
    assert pending == 0, "something is still queued on the phone"
    assert problems == [], f"errors in the page (CSP, script): {problems}"


def test_the_manager_sees_the_visit_in_the_report(browser: Any, visit_live: VisitLive) -> None:
    context = browser.new_context(base_url=visit_live.url, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=username]", "manager")
        page.fill("input[name=password]", DEMO_PASSWORD)
        with page.expect_navigation():
            page.click("#login")
        page.click("header nav a[href='/visits/report']")
        page.wait_for_selector("#by-team")
        made = _record(visit_live)  # after the journey above: made, borrower met
        team = page.locator("#by-team tr[data-key=T1]")
        assert team.locator("td.planned").inner_text() == "1"
        assert team.locator("td.made").inner_text() == str(int(made.started_at is not None))
        assert team.locator("td.found").inner_text() == str(int(made.met == "borrower"))
        assert page.locator("svg.chart").count() == 3
        _shoot(page, visit_live, "report")
        with page.expect_download() as download:
            page.click("#report-csv")
        text = Path(download.value.path()).read_text("utf-8-sig")
        assert "T1" in text
        assert ("800.00" in text) == (made.promise_id is not None)
    finally:
        context.close()
