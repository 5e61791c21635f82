"""Live statuses: read from the day's cycle when nothing changed since, else computed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from arrears.adapters.db import tables as t
from arrears.adapters.db.book_store import read_book
from arrears.engine.status import MONEY_COLUMNS, compute_status_table
from arrears.jobs.cycle import run_cycle
from arrears.services import desk
from fixtures.web import AS_OF, FixedClock, build_desk_store


@pytest.fixture
def cycled(store: Engine, tmp_path: Path) -> Engine:
    """A desk whose cycle of AS_OF ran after the book was written (as each morning)."""
    engine = build_desk_store(store.url.render_as_string(hide_password=False), tmp_path)
    run_cycle(engine, AS_OF, FixedClock().now() + timedelta(minutes=5))
    return engine


def _computed(engine: Engine, loan_ids: list[str]) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        table = compute_status_table(read_book(conn, loan_ids), [AS_OF])
    table = table.rename_columns(
        [f"{c}_minor" if c in MONEY_COLUMNS else c for c in table.column_names]
    )
    return {row["loan_id"]: row for row in table.to_pylist()}


def test_statuses_from_the_cycle_equal_the_ledger(cycled: Engine) -> None:
    with cycled.connect() as conn:
        ids = [r[0] for r in conn.execute(select(t.loans.c.loan_id).order_by(t.loans.c.loan_id))]
        from_cycle = desk._cycled_status(conn, ids, AS_OF)
        live = desk.live_status(conn, ids, AS_OF)
    assert len(from_cycle) > len(ids) // 2, "most loans should come from the cycle"
    expected = _computed(cycled, ids)
    assert live == expected
    assert {k: expected[k] for k in from_cycle} == from_cycle


def test_a_day_without_a_cycle_is_computed(desk_engine: Engine) -> None:
    with desk_engine.connect() as conn:
        ids = [r[0] for r in conn.execute(select(t.loans.c.loan_id).limit(5))]
        later = AS_OF.replace(day=AS_OF.day + 1)
        assert desk._cycled_status(conn, ids, later) == {}
        live = desk.live_status(conn, ids, later)
    assert [row["as_of"] for row in live.values()] == [later] * len(ids)


def test_a_payment_after_the_cycle_is_computed(cycled: Engine) -> None:
    from fastapi.testclient import TestClient

    from arrears.domain.people import ApiScope
    from arrears.services.auth import create_token
    from arrears.web.app import create_app
    from arrears.web.context import WebContext

    class Later(FixedClock):  # the payment arrives after the morning's cycle
        def now(self) -> datetime:
            return super().now() + timedelta(hours=1)

    with cycled.begin() as conn:
        loan_id = conn.execute(
            select(t.loans.c.loan_id).order_by(t.loans.c.loan_id).limit(1)
        ).scalar_one()
        secret = create_token(conn, "core", {ApiScope.WRITE_PAYMENTS}, None, FixedClock().now())
        assert loan_id in desk._cycled_status(conn, [loan_id], AS_OF)
    app = create_app(
        WebContext(
            engine=cycled,
            clock=Later(),
            default_locale="zh_CN",
            lender_timezone="Asia/Shanghai",
            cookie_secure=True,
        )
    )
    client = TestClient(app, base_url="https://testserver")
    r = client.post(
        "/api/v1/payments",
        headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "after-cycle"},
        json={
            "payment_id": "AFTER-1",
            "loan_id": loan_id,
            "paid_at": "2026-11-28T09:00:00+08:00",
            "amount": "10.00",
        },
    )
    assert r.status_code == 201, r.text
    with cycled.connect() as conn:
        assert desk._cycled_status(conn, [loan_id], AS_OF) == {}
        live = desk.live_status(conn, [loan_id], AS_OF)
    assert live == _computed(cycled, [loan_id])
    assert r.json()["status"]["total_due_now"] is not None
