"""The plan overlay through the daily cycle, on SQLite and PostgreSQL.

A demo store cycled to 2026-11-28; on 11-29 four plans are proposed, approved and accepted
through ``services.plans``: a restructure, an instalment plan that is paid, an instalment
plan that is never paid (it breaks) and a discounted settlement paid in full (completed).
The cycle then runs day after day (and on the observation end of the restructure): the stored
statuses follow the plans, the restructure floor holds during observation and lifts after it,
a broken plan leaves the contract's figures, and the other loans are exactly what a full
recompute gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from sqlalchemy import Connection, Engine, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import plan_tables as pt
from arrears.adapters.db import tables as t
from arrears.adapters.db.book_store import read_book, read_status
from arrears.domain.delinquency import apply_restructure_floor
from arrears.domain.negotiation import PlanKind, PlanState, evaluate_plan, terms_from_data
from arrears.domain.people import Actor, Role
from arrears.domain.products import Classification, ProductSettings
from arrears.engine.status import STATUS_SCHEMA, compute_status_table
from arrears.jobs.cycle import run_cycle
from arrears.services import plans
from arrears.services.desk import live_status
from fixtures.web import AS_OF, build_desk_store

D0 = AS_OF + timedelta(days=1)  # the plans' start day
PRODUCT = ProductSettings()


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'desk.db'}"
    else:
        url = request.getfixturevalue("pg_database_url")
    engine = build_desk_store(url, tmp_path / "work", borrowers=40)
    yield engine
    engine.dispose()


def _now(day: date, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, 1, minute, tzinfo=UTC) + timedelta(days=1)


def _actor(conn: Connection, username: str) -> Actor:
    u = conn.execute(select(d.users).where(d.users.c.username == username)).one()
    return Actor(u.username, Role(u.role), u.user_id, u.team_id)


def _accounts_in_arrears(conn: Connection, actor: Actor, n: int) -> list[tuple[str, str]]:
    a = d.account_assignments.c
    out = []
    for b in conn.execute(
        select(a.borrower_id).where(a.user_id == actor.user_id).order_by(a.borrower_id)
    ).scalars():
        snap = plans.plan_options(conn, actor, b, None, D0, {}).snapshot
        if snap.total_due_now > 0 and snap.penalty > 0 and snap.principal_outstanding > 0:
            out.append((b, snap.loan_id))
    assert len(out) >= n, "the demo book should have enough accounts in arrears"
    return out[:n]


def _pay(conn: Connection, loan: str, on: date, amount: Decimal, key: str, now: datetime) -> None:
    conn.execute(
        sa.insert(t.payments).values(
            payment_id=f"OVL-{key}",
            loan_id=loan,
            paid_at=datetime(on.year, on.month, on.day, 3, tzinfo=UTC),
            paid_on=on,
            amount_minor=int(amount * 100),
            created_at=now,
        )
    )


def _row(conn: Connection, loan: str, day: date) -> Any:
    s = t.status_history
    return conn.execute(select(s).where(s.c.loan_id == loan, s.c.as_of == day)).one()


def _contract(conn: Connection, loan: str, day: date) -> dict[str, Any]:
    """The engine's status of the loan from its full history (the contract)."""
    table = compute_status_table(read_book(conn, [loan]), [day], None)
    return table.to_pylist()[0]


def _plan_terms(conn: Connection, plan_id: int) -> Any:
    return terms_from_data(
        conn.execute(select(pt.plans.c.terms).where(pt.plans.c.plan_id == plan_id)).scalar_one()
    )


def _propose_and_accept(
    conn: Connection, proposer: Actor, approver: Actor, borrower: str, loan: str, **req: Any
) -> int:
    pid = plans.propose_plan(
        conn, proposer, borrower, loan, plans.PlanRequest(**req), D0, _now(AS_OF, 5), {}
    )
    status = conn.execute(select(pt.plans.c.status).where(pt.plans.c.plan_id == pid)).scalar()
    if status == "pending_approval":
        plans.decide_plan(conn, approver, pid, True, "agreed with the borrower", _now(AS_OF), D0)
    plans.record_acceptance(conn, proposer, pid, "signed_paper", f"DOC-{pid}", _now(AS_OF, 6), D0)
    return pid


def test_the_cycle_overlays_plans_and_leaves_other_loans_to_the_ledger(desk: Engine) -> None:
    with desk.begin() as conn:
        manager, collector = _actor(conn, "manager"), _actor(conn, "collector1")
        (b_r, l_r), (b_i, l_i), (b_x, l_x), (b_s, l_s) = _accounts_in_arrears(conn, collector, 4)
        snap_r = plans.plan_options(conn, manager, b_r, l_r, D0, {}).snapshot
        restructure = _propose_and_accept(
            conn, manager, manager, b_r, l_r, kind=PlanKind.RESTRUCTURE, months=24
        )
        instalment = _propose_and_accept(
            conn, collector, manager, b_i, l_i, kind=PlanKind.INSTALMENT, months=3
        )
        doomed = _propose_and_accept(
            conn, collector, manager, b_x, l_x, kind=PlanKind.INSTALMENT, months=2
        )
        snap_s = plans.plan_options(conn, manager, b_s, l_s, D0, {}).snapshot
        amount = (snap_s.total_owed * Decimal("0.9")).quantize(Decimal("0.01"))
        settlement = _propose_and_accept(
            conn,
            manager,
            manager,
            b_s,
            l_s,
            kind=PlanKind.SETTLEMENT,
            settlement_amount=amount,
        )
        terms_r = _plan_terms(conn, restructure)
        terms_i = _plan_terms(conn, instalment)
        terms_x = _plan_terms(conn, doomed)
        terms_s = _plan_terms(conn, settlement)
        # On the start day: the restructure's down payment, the settlement in full, and
        # every instalment of the instalment plan due that day.
        _pay(conn, l_r, D0, terms_r.instalments[0].amount, "R0", _now(AS_OF, 7))
        _pay(conn, l_s, D0, amount, "S", _now(AS_OF, 7))
        for k, inst in enumerate(terms_i.instalments):
            if inst.due_date == D0:
                _pay(conn, l_i, D0, inst.amount, f"I{k}", _now(AS_OF, 7))
    r = terms_r.restructure
    assert r is not None
    floor = r.classification_floor
    before = Classification(snap_r.status.classification)
    assert floor is apply_restructure_floor(Classification.NORMAL, before)

    # -- successive days ----------------------------------------------------------------------
    last = terms_x.instalments[0].due_date + timedelta(days=terms_x.grace_days + 2)
    days = [D0 + timedelta(days=k) for k in range((last - D0).days + 1)]
    carried = 0
    plan_loans = {l_r, l_i, l_x, l_s}
    for k, day in enumerate(days):
        # the instalment plan is paid on each due date, the restructure's new installments too
        with desk.begin() as conn:
            for j, inst in enumerate(terms_i.instalments):
                if inst.due_date == day and day != D0:
                    _pay(conn, l_i, day, inst.amount, f"I{j}", _now(day, 0))
            for j, inst in enumerate(terms_r.instalments[1:], start=1):
                if inst.due_date == day:
                    _pay(conn, l_r, day, inst.amount, f"R{j}", _now(day, 0))
        result = run_cycle(desk, day, _now(day, 30))
        if k:
            carried += result.loans_carried
        with desk.connect() as conn:
            _check_restructure(conn, l_r, terms_r, day)
            _check_active(conn, l_i, terms_i, day)
            _check_completed(conn, l_s, terms_s, day, settlement)
            _check_doomed(conn, l_x, terms_x, day)
            _check_queue(conn, [b_r, b_i, b_x, b_s], day)
            _check_ledger_loans(conn, day, plan_loans)
            _check_account_view(conn, [l_r, l_i, l_s], day)
    assert carried > 0, "quiet loans should have advanced without a replay"

    # -- the restructure's observation end, then the day after --------------------------------
    with desk.begin() as conn:
        for j, inst in enumerate(terms_r.instalments[1:], start=1):
            if days[-1] < inst.due_date <= r.observation_end:
                _pay(conn, l_r, inst.due_date, inst.amount, f"R{j}", _now(days[-1], 40))
    for day in (r.observation_end, r.observation_end + timedelta(days=1)):
        run_cycle(desk, day, _now(day, 30))
        with desk.connect() as conn:
            row = _row(conn, l_r, day)
            ev = evaluate_plan(terms_r, _plan_payments(conn, l_r, terms_r.start), day)
            assert ev.state is PlanState.KEPT and row.dpd == 0
            by_dpd = PRODUCT.classification.floor_for(row.dpd)
            if day <= r.observation_end:
                assert row.classification == r.classification_on(day, by_dpd).value == floor
            else:
                assert row.classification == by_dpd.value == "normal"
            assert row.plan_overlay["source"] == "after_plan"
            assert row.next_due_date == terms_r.after_plan[0].due_date
            _check_ledger_loans(conn, day, plan_loans)


def _plan_payments(conn: Connection, loan: str, start: date) -> list[tuple[date, Decimal]]:
    p = t.payments.c
    return [
        (r.paid_on, Decimal(r.amount_minor) / 100)
        for r in conn.execute(
            select(p.paid_on, p.amount_minor)
            .where(p.loan_id == loan, p.paid_on >= start)
            .order_by(p.paid_on)
        )
    ]


def _check_restructure(conn: Connection, loan: str, terms: Any, day: date) -> None:
    row = _row(conn, loan, day)
    ev = evaluate_plan(terms, _plan_payments(conn, loan, terms.start), day)
    assert ev.state is PlanState.ACTIVE
    assert row.plan_overlay is not None and row.plan_overlay["kind"] == "restructure"
    assert row.quiet_until is None  # the next cycle replays the loan
    assert row.dpd == ev.dpd == 0
    # during observation: the worse of the DPD class and the floor
    r = terms.restructure
    assert row.classification == r.classification_floor.value
    assert row.plan_overlay["class_floor"] == r.classification_floor.value
    nxt = next(i for i in ev.instalments if i.due_date >= day and i.paid < i.amount)
    assert row.next_due_date == nxt.due_date
    assert row.next_due_amount_minor == int((nxt.amount - nxt.paid) * 100)
    assert row.total_due_now_minor == 0
    # the contract (old schedule, penalty accruing) is still in arrears
    contract = _contract(conn, loan, day)
    assert row.plan_overlay["replaced"].get("dpd", row.dpd) == contract["dpd"]


def _check_active(conn: Connection, loan: str, terms: Any, day: date) -> None:
    row = _row(conn, loan, day)
    ev = evaluate_plan(terms, _plan_payments(conn, loan, terms.start), day)
    assert ev.state is PlanState.ACTIVE
    assert row.plan_overlay["source"] == "plan" and row.dpd == ev.dpd == 0
    nxt = next(i for i in ev.instalments if i.due_date >= day and i.paid < i.amount)
    assert row.next_due_date == nxt.due_date
    assert row.next_due_amount_minor == int((nxt.amount - nxt.paid) * 100)
    assert row.total_due_now_minor == 0 and row.quiet_until is None


def _check_completed(conn: Connection, loan: str, terms: Any, day: date, plan_id: int) -> None:
    row = _row(conn, loan, day)
    assert row.paid_off is True and row.dpd == 0 and row.total_due_now_minor == 0
    assert row.principal_outstanding_minor == 0 and row.accrued_penalty_minor == 0
    assert row.plan_overlay["plan_state"] == "completed"
    written = conn.execute(
        select(pt.plan_events.c.amount_minor).where(
            pt.plan_events.c.plan_id == plan_id, pt.plan_events.c.kind == "waiver_written_off"
        )
    ).scalar_one()
    assert written == int(terms.waiver.total * 100) > 0
    assert Decimal(row.plan_overlay["written_off"]) == terms.waiver.total
    assert _contract(conn, loan, day)["paid_off"] is False  # the ledger keeps the discount


def _check_doomed(conn: Connection, loan: str, terms: Any, day: date) -> None:
    row = _row(conn, loan, day)
    ev = evaluate_plan(terms, _plan_payments(conn, loan, terms.start), day)
    contract = _contract(conn, loan, day)
    if ev.state is PlanState.ACTIVE:
        assert row.plan_overlay is not None and row.dpd == ev.dpd
        return
    # broken: the contract's figures, exactly, and no overlay
    assert ev.state is PlanState.BROKEN
    assert row.plan_overlay is None
    for name in STATUS_SCHEMA.names:
        stored = name if name in row._mapping else f"{name}_minor"
        assert row._mapping[stored] == contract[name], name


def _check_queue(conn: Connection, borrowers: list[str], day: date) -> None:
    s, a = t.status_history.c, d.account_assignments.c
    for b in borrowers:
        dpd, due = conn.execute(
            select(sa.func.max(s.dpd), sa.func.sum(s.total_due_now_minor)).where(
                s.borrower_id == b, s.as_of == day
            )
        ).one()
        standing = conn.execute(select(a.dpd, a.due_minor).where(a.borrower_id == b)).one()
        assert (standing.dpd, standing.due_minor) == (dpd, due), b


def _check_ledger_loans(conn: Connection, day: date, plan_loans: set[str]) -> None:
    """Every loan without a plan: the stored row equals a full recompute, state included."""
    stored = read_status(conn, day, with_state=True)
    full = compute_status_table(read_book(conn, None), [day], None, with_state=True)
    others = pa.array(sorted(plan_loans), pa.string())
    stored = stored.filter(pc.invert(pc.is_in(stored["loan_id"], value_set=others)))
    full = full.filter(pc.is_in(full["loan_id"], value_set=stored["loan_id"])).sort_by("loan_id")
    assert stored.num_rows == full.num_rows > 30
    assert stored.equals(full.select(stored.column_names).cast(stored.schema))


def _check_account_view(conn: Connection, loans: list[str], day: date) -> None:
    view = live_status(conn, loans, day)
    for loan in loans:
        row = _row(conn, loan, day)
        assert view[loan]["dpd"] == row.dpd
        assert view[loan]["total_due_now_minor"] == row.total_due_now_minor
        assert view[loan]["classification"] == row.classification
        assert view[loan]["plan_overlay"]["plan_id"] == row.plan_overlay["plan_id"]
