"""The work queue's standing columns follow their sources at once (SQLite and PostgreSQL).

Each test builds its own desk (the demo book cycled to 2026-11-28, demo users and
assignments) and compares ``account_assignments``' standing with figures computed here, in
Python, from ``status_history`` and ``contact_attempts``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.adapters.db.engine import _alembic_config
from arrears.domain.people import ApiScope
from arrears.jobs.cycle import run_cycle
from arrears.services.auth import create_token
from fixtures.web import AS_OF, FixedClock, build_desk_store, csrf_of, logged_in, make_web


@pytest.fixture
def desk(store: Engine, tmp_path: Path) -> Engine:
    return build_desk_store(store.url.render_as_string(hide_password=False), tmp_path)


def _expected(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """borrower → (standing date, loans, worst dpd, due now, last contact, next action)."""
    a, s, c = d.account_assignments, t.status_history, d.contact_attempts
    with engine.connect() as conn:
        assigned = [r[0] for r in conn.execute(select(a.c.borrower_id))]
        last = conn.execute(select(func.max(s.c.as_of))).scalar()
        statuses = conn.execute(
            select(s.c.borrower_id, s.c.dpd, s.c.total_due_now_minor).where(s.c.as_of == last)
        ).all()
        contacts = conn.execute(select(c.c.borrower_id, c.c.at, c.c.next_action_on)).all()
    out: dict[str, tuple[Any, ...]] = {}
    for b in assigned:
        mine = [r for r in statuses if r.borrower_id == b]
        calls = [r for r in contacts if r.borrower_id == b]
        actions = [r.next_action_on for r in calls if r.next_action_on is not None]
        out[b] = (
            last,
            len(mine),
            max((r.dpd for r in mine), default=0),
            sum(r.total_due_now_minor for r in mine),
            max((r.at for r in calls), default=None),
            min(actions, default=None),
        )
    return out


def _standing(engine: Engine) -> dict[str, tuple[Any, ...]]:
    a = d.account_assignments
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                a.c.borrower_id,
                a.c.standing_as_of,
                a.c.loans,
                a.c.dpd,
                a.c.due_minor,
                a.c.last_contact_at,
                a.c.next_action_on,
            )
        ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_standing_is_the_last_cycle_and_the_contacts(desk: Engine) -> None:
    expected = _expected(desk)
    assert len(expected) > 10
    assert any(v[2] > 0 for v in expected.values()), "some assigned account should be overdue"
    assert _standing(desk) == expected


def test_a_new_cycle_moves_the_standing_on(desk: Engine) -> None:
    before = _standing(desk)
    run_cycle(desk, AS_OF + timedelta(days=1), FixedClock().now())
    after = _standing(desk)
    assert after == _expected(desk)
    assert {v[0] for v in after.values()} == {AS_OF + timedelta(days=1)}
    overdue = [b for b, v in before.items() if v[2] > 0]
    assert any(after[b][2] == before[b][2] + 1 for b in overdue), "DPD should grow a day"


def test_migration_fills_the_standing_of_existing_assignments(desk: Engine) -> None:
    cfg = _alembic_config()
    with desk.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    with desk.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert _standing(desk) == _expected(desk)


def _first_assigned(engine: Engine, username: str, overdue: bool) -> str:
    a, u = d.account_assignments, d.users
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(a.c.borrower_id)
                .join(u, u.c.user_id == a.c.user_id)
                .where(u.c.username == username, (a.c.dpd > 0) if overdue else (a.c.dpd >= 0))
                .order_by(a.c.borrower_id)
                .limit(1)
            ).scalar_one()
        )


def test_a_logged_call_moves_the_account_in_the_queue(desk: Engine) -> None:
    app = make_web(desk)
    client = logged_in(app, "collector1")
    borrower = _first_assigned(desk, "collector1", overdue=False)
    page = client.get(f"/accounts/{borrower}")
    soon = AS_OF + timedelta(days=1)
    posted = client.post(
        f"/accounts/{borrower}/contacts",
        data={
            "csrf_token": csrf_of(page.text),
            "outcome": "promise_to_pay",
            "channel": "phone",
            "right_party": "on",
            "next_action_on": soon.isoformat(),
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    standing = _standing(desk)[borrower]
    assert standing == _expected(desk)[borrower]
    assert standing[4] == FixedClock().now()
    queue = client.get("/queue?sort=last_contact&dir=desc")
    first = queue.text.index('href="/accounts/')
    assert queue.text[first:].startswith(f'href="/accounts/{borrower}"')


def test_a_posted_payment_shows_in_the_queue_at_once(desk: Engine) -> None:
    borrower = _first_assigned(desk, "collector1", overdue=True)
    with desk.begin() as conn:
        secret = create_token(conn, "core", {ApiScope.WRITE_PAYMENTS}, None, FixedClock().now())
        loans = conn.execute(
            select(t.loans.c.loan_id).where(t.loans.c.borrower_id == borrower)
        ).all()
    app = make_web(desk)
    api = logged_in(app, "collector1")
    before = _standing(desk)[borrower]
    for i, (loan_id,) in enumerate(loans):
        r = api.post(
            "/api/v1/payments",
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": f"k{i}"},
            json={
                "payment_id": f"PAY-{i}",
                "loan_id": loan_id,
                "paid_at": datetime(2026, 11, 28, 9, tzinfo=FixedClock().now().tzinfo).isoformat(),
                "amount": "100000.00",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"]["dpd"] == 0
    after = _standing(desk)[borrower]
    assert before[2] > 0
    assert after[1:4] == (len(loans), 0, 0)
    assert after[0] == date(2026, 11, 28)
    queue = api.get("/queue?sort=dpd&dir=asc")
    assert f'href="/accounts/{borrower}"' in queue.text
