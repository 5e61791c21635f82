"""Promises to pay: recorded on the account page (alone or with a call outcome), validated,
superseded, settled by the cycle against payments, counted per collector."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import tables as t
from arrears.services.promises import collector_promise_stats, settle_promises
from fixtures.web import AS_OF, csrf_of, logged_in


def _an_account(client: Any) -> str:
    ids = re.findall(r'href="/accounts/([^"]+)"', client.get("/queue").text)
    assert ids
    return ids[-1]


def _promises(engine: Engine, borrower: str) -> list[Any]:
    p = nt.promises.c
    with engine.connect() as conn:
        return conn.execute(
            select(nt.promises).where(p.borrower_id == borrower).order_by(p.promise_id)
        ).all()


def _items(engine: Engine, promise_id: int) -> list[tuple[date, int]]:
    i = nt.promise_items.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(i.due_on, i.amount_minor).where(i.promise_id == promise_id).order_by(i.seq)
        ).all()
    return [(r.due_on, r.amount_minor) for r in rows]


def test_record_a_promise_then_a_newer_one_supersedes_it(
    desk_app: Any, desk_engine: Engine
) -> None:
    client = logged_in(desk_app, "collector1")
    account = _an_account(client)
    before = len(_promises(desk_engine, account))
    page = client.get(f"/accounts/{account}")
    r = client.post(
        f"/accounts/{account}/promises",
        data={
            "csrf_token": csrf_of(page.text),
            "promised_by": "spouse",
            "channel": "phone",
            "date_1": (AS_OF + timedelta(days=3)).isoformat(),
            "amount_1": "300.50",
            "date_2": (AS_OF + timedelta(days=10)).isoformat(),
            "amount_2": "200",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    rows = _promises(desk_engine, account)
    assert len(rows) == before + 1
    first = rows[-1]
    assert (first.status, first.total_minor, first.promised_by, first.recorded_by) == (
        "open",
        50050,
        "spouse",
        "collector1",
    )
    assert first.made_on == AS_OF and first.tolerance_minor == 100  # the default ¥1.00
    assert _items(desk_engine, first.promise_id) == [
        (AS_OF + timedelta(days=3), 30050),
        (AS_OF + timedelta(days=10), 20000),
    ]
    shown = client.get(f"/accounts/{account}")
    assert 'class="promise-open"' in shown.text
    # Through the call outcome form: a promise linked to the attempt; the first is superseded.
    r = client.post(
        f"/accounts/{account}/contacts",
        data={
            "csrf_token": csrf_of(shown.text),
            "outcome": "promise_to_pay",
            "channel": "phone",
            "right_party": "on",
            "promise_date": (AS_OF + timedelta(days=5)).isoformat(),
            "promise_amount": "800",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    rows = _promises(desk_engine, account)
    assert [r.status for r in rows[-2:]] == ["cancelled", "open"]
    assert rows[-1].attempt_id is not None and rows[-1].total_minor == 80000
    with desk_engine.connect() as conn:
        actions = (
            conn.execute(
                select(d.audit_log.c.action).where(
                    d.audit_log.c.subject_id == account, d.audit_log.c.action == "record_promise"
                )
            )
            .scalars()
            .all()
        )
    assert len(actions) >= 2
    # The collector's own kept rate on the queue; per collector on the manager's portfolio.
    assert 'id="my-promises"' in client.get("/queue").text
    portfolio = logged_in(desk_app, "manager").get("/portfolio").text
    table = portfolio[portfolio.index('id="promise-table"') :]
    assert 'data-user="collector1"' in table


def test_bad_promises_are_refused_and_change_nothing(desk_app: Any, desk_engine: Engine) -> None:
    client = logged_in(desk_app, "collector1")
    account = _an_account(client)
    before = len(_promises(desk_engine, account))
    page = client.get(f"/accounts/{account}")
    cases = [
        ({"date_1": (AS_OF - timedelta(days=1)).isoformat(), "amount_1": "100"}, "before today"),
        ({"date_1": (AS_OF + timedelta(days=2)).isoformat(), "amount_1": "-5"}, "positive"),
        ({"date_1": (AS_OF + timedelta(days=2)).isoformat(), "amount_1": "1.234"}, "2 decimals"),
        ({"date_1": (AS_OF + timedelta(days=91)).isoformat(), "amount_1": "100"}, "90 days"),
        ({"date_1": "2026-13-01", "amount_1": "100"}, "not a date"),
        (
            {
                "date_1": (AS_OF + timedelta(days=5)).isoformat(),
                "amount_1": "100",
                "date_2": (AS_OF + timedelta(days=4)).isoformat(),
                "amount_2": "100",
            },
            "increasing",
        ),
    ]
    for fields, message in cases:
        r = client.post(
            f"/accounts/{account}/promises",
            data={"csrf_token": csrf_of(page.text), **fields},
        )
        assert r.status_code == 422, fields
        assert message in r.text, (fields, message)
    r = client.post(
        f"/accounts/{account}/contacts",
        data={
            "csrf_token": csrf_of(page.text),
            "outcome": "no_answer",
            "promise_date": (AS_OF + timedelta(days=2)).isoformat(),
            "promise_amount": "100",
        },
    )
    assert r.status_code == 422 and "promise to pay" in r.text
    assert len(_promises(desk_engine, account)) == before


def test_the_cycle_settles_promises_against_payments(desk_engine: Engine) -> None:
    """Three accounts, three promises: paid in full (kept), paid half (partly kept), nothing
    (broken); settled once, counted per collector. Rolled back afterwards."""
    with desk_engine.connect() as conn:
        tx = conn.begin()
        try:
            loans = conn.execute(
                select(t.loans.c.borrower_id, t.loans.c.loan_id).order_by(t.loans.c.loan_id)
            ).all()
            seen: dict[str, str] = {}
            for b, lo in loans:
                seen.setdefault(b, lo)
            three = list(seen.items())[:3]
            # Other tests' open promises are out of this one's way (all rolled back below).
            conn.execute(sa.update(nt.promises).values(status="cancelled"))
            made = AS_OF + timedelta(days=1)
            moment = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
            paid = {0: 100000, 1: 50000, 2: 0}
            for k, (b, lo) in enumerate(three):
                pid = conn.execute(
                    sa.insert(nt.promises).values(
                        borrower_id=b,
                        loan_id=lo,
                        channel="phone",
                        promised_by="borrower",
                        made_on=made,
                        total_minor=100000,
                        tolerance_minor=100,
                        status="open",
                        recorded_by="collector-x",
                        created_at=moment,
                    )
                ).inserted_primary_key[0]
                conn.execute(
                    sa.insert(nt.promise_items).values(
                        promise_id=pid, seq=1, due_on=made + timedelta(days=3), amount_minor=100000
                    )
                )
                if paid[k]:
                    conn.execute(
                        sa.insert(t.payments).values(
                            payment_id=f"PTP-TEST-{k}",
                            loan_id=lo,
                            paid_at=moment,
                            paid_on=made + timedelta(days=2),
                            amount_minor=paid[k],
                            created_at=moment,
                        )
                    )
            # The day before the promised date: the full payment keeps its promise at once;
            # the others stay open (the half payment counts toward its promise).
            assert settle_promises(conn, made + timedelta(days=2), moment) == {"kept": 1}
            state = dict(
                conn.execute(
                    select(nt.promises.c.borrower_id, nt.promises.c.status).where(
                        nt.promises.c.recorded_by == "collector-x"
                    )
                ).all()
            )
            assert [state[b] for b, _ in three] == ["kept", "open", "open"]
            # At the end of the promised date the other two are settled.
            counts = settle_promises(conn, made + timedelta(days=3), moment)
            assert counts == {"partly_kept": 1, "broken": 1}
            assert settle_promises(conn, made + timedelta(days=9), moment) == {}
            rows = {
                r.borrower_id: r
                for r in conn.execute(
                    select(nt.promises).where(nt.promises.c.recorded_by == "collector-x")
                )
            }
            assert [(rows[b].status, rows[b].paid_minor) for b, _ in three] == [
                ("kept", 100000),
                ("partly_kept", 50000),
                ("broken", 0),
            ]
            assert rows[three[1][0]].settled_on == made + timedelta(days=3)
            stats = collector_promise_stats(conn, made, recorded_by="collector-x")
            assert len(stats) == 1
            s = stats[0]
            assert (s["made"], s["kept"], s["partly_kept"], s["broken"], s["open"]) == (
                3,
                1,
                1,
                1,
                0,
            )
            assert s["kept_rate"] == 1 / 3 and s["paid_minor"] == 150000
            audit = (
                conn.execute(
                    select(d.audit_log.c.action).where(d.audit_log.c.action.like("promise_%"))
                )
                .scalars()
                .all()
            )
            assert sorted(audit)[-3:] == ["promise_broken", "promise_kept", "promise_partly_kept"]
        finally:
            tx.rollback()
