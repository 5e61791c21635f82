"""``adapters.db.reads``: the hot reads give exactly what ``Connection.execute`` gives.

On PostgreSQL the second run of a statement goes through the driver's cursor (the first
learns the result columns' processors through SQLAlchemy); on SQLite every run is
SQLAlchemy's. Values are compared by ``repr`` — a timestamp in another zone, a float for a
Decimal or a str for an enum would differ.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, event, literal_column, select
from sqlalchemy.exc import DBAPIError, StatementError

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import reads
from arrears.adapters.db import tables as t
from arrears.domain.contacts import ContactOutcome
from arrears.domain.people import Actor, Role
from arrears.services import access, auth, desk, plans, promises

AS_OF = date(2026, 11, 28)


def _sqlalchemy(conn: Any, stmt: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(stmt, params)]


def _direct(engine: Engine, stmt: Any) -> bool:
    plan = reads._plans[(id(stmt), engine.dialect.name)][1]
    return plan.direct and plan.results is not None


def _statements(engine: Engine) -> list[tuple[str, Any, dict[str, Any]]]:
    with engine.connect() as conn:
        a = d.account_assignments
        user_id, borrower_id = conn.execute(
            select(a.c.user_id, a.c.borrower_id).order_by(a.c.borrower_id).limit(1)
        ).one()
        user = conn.execute(select(d.users).where(d.users.c.user_id == user_id)).one()
    actor = Actor(user.username, Role(user.role), user.user_id, user.team_id)
    now = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
    with engine.begin() as conn:  # so that the notes and contacts lists are not empty
        # Plain rows, no audit entries: the shared desk's audit pages are tested for order.
        conn.execute(
            d.notes.insert().values(
                borrower_id=borrower_id, author=actor.name, body="called twice", created_at=now
            )
        )
        conn.execute(
            d.contact_attempts.insert().values(
                borrower_id=borrower_id,
                channel="phone",
                answered=False,
                right_party=False,
                outcome=ContactOutcome.CALLBACK.value,
                recorded_by=actor.name,
                at=now,
                created_at=now,
            )
        )
    one = {"borrower_id": borrower_id}
    return [
        (
            "borrower",
            access._borrower_statement(access.shape_of(actor)),
            {**one, **access.scope_params(actor)},
        ),
        ("loans", desk._loans_cycled_statement(), {**one, "as_of": AS_OF}),
        ("history", desk._history_statement(True), {**one, "since": AS_OF - timedelta(180)}),
        ("notes", desk._notes_statement(50), one),
        ("contacts", desk._contacts_statement(50), one),
        ("plans", plans._plans_of_statement(), {**one, "limit": 50}),
        ("promises", promises._promises_statement(50), one),
        ("stats", promises._promise_stats_statement(False), {"since": AS_OF - timedelta(90)}),
    ]


def test_hot_reads_equal_sqlalchemy_and_go_direct_on_postgresql(desk_engine: Engine) -> None:
    # The plans and promises lists may be empty on this book: their columns' processors are
    # then learnt from the description alone (the notes and contacts have a row each).
    for name, stmt, params in _statements(desk_engine):
        for _ in range(3):  # learn, then direct (PostgreSQL)
            with desk_engine.begin() as conn:
                expected = _sqlalchemy(conn, stmt, params)
                got = reads.dicts(conn, stmt, params)
            assert repr(got) == repr(expected), name
        direct = _direct(desk_engine, stmt)
        assert direct is (desk_engine.dialect.name == "postgresql"), name


def test_timestamps_come_back_in_utc_both_ways(desk_engine: Engine) -> None:
    runs = t.cycle_runs
    stmt = select(runs.c.as_of, runs.c.started_at).order_by(runs.c.as_of)
    for _ in range(2):
        with desk_engine.begin() as conn:
            got = reads.rows(conn, stmt)
    assert got, "the demo book has been cycled"
    for _, started_at in got:
        assert started_at.utcoffset() == timedelta(0)


def test_statement_listeners_see_direct_reads(desk_engine: Engine) -> None:
    stmt = select(t.loans.c.loan_id).where(t.loans.c.borrower_id == bindparam("b"))
    with desk_engine.begin() as conn:
        reads.rows(conn, stmt, {"b": "nobody"})  # learn
    seen: list[str] = []

    def hook(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    event.listen(desk_engine, "before_cursor_execute", hook)
    try:
        with desk_engine.begin() as conn:
            assert reads.rows(conn, stmt, {"b": "nobody"}) == []
    finally:
        event.remove(desk_engine, "before_cursor_execute", hook)
    assert len(seen) == 1 and "loans" in seen[0]


def test_driver_errors_are_sqlalchemy_errors_and_the_connection_stays_usable(
    desk_engine: Engine,
) -> None:
    stmt = select(literal_column("10") / bindparam("z", type_=t.loans.c.term_months.type))
    with desk_engine.begin() as conn:
        reads.rows(conn, stmt, {"z": 2})  # learn
    if desk_engine.dialect.name == "sqlite":
        pytest.skip("SQLite divides by zero into NULL: no error to raise")
    with pytest.raises(DBAPIError, match="division by zero"), desk_engine.begin() as conn:
        reads.rows(conn, stmt, {"z": 0})
    with desk_engine.begin() as conn:
        assert reads.rows(conn, stmt, {"z": 5}) == [(2,)]


def test_missing_parameter_is_sqlalchemy_s_error(desk_engine: Engine) -> None:
    stmt = select(t.loans.c.loan_id).where(t.loans.c.borrower_id == bindparam("who"))
    with desk_engine.begin() as conn:
        reads.rows(conn, stmt, {"who": "x"})
    with pytest.raises(StatementError, match="who"), desk_engine.begin() as conn:
        reads.rows(conn, stmt, {})


def test_expanding_and_untransacted_reads_go_through_sqlalchemy(desk_engine: Engine) -> None:
    stmt = (
        select(t.loans.c.loan_id)
        .where(t.loans.c.loan_id.in_(bindparam("ids", expanding=True)))
        .order_by(t.loans.c.loan_id)
    )
    with desk_engine.connect() as conn:
        ids = list(conn.execute(select(t.loans.c.loan_id).limit(3)).scalars())
    for _ in range(2):
        with desk_engine.begin() as conn:
            assert reads.rows(conn, stmt, {"ids": ids}) == [(i,) for i in sorted(ids)]
    assert not _direct(desk_engine, stmt)
    plain = select(t.loans.c.loan_id).where(t.loans.c.loan_id == bindparam("id"))
    for _ in range(2):
        with desk_engine.connect() as conn:  # no transaction begun: SQLAlchemy's autobegin
            assert reads.rows(conn, plain, {"id": ids[0]}) == [(ids[0],)]
            assert conn.in_transaction()


def test_session_lookup_through_direct_reads(desk_engine: Engine) -> None:
    now = datetime(2026, 11, 28, 9, tzinfo=UTC)
    with desk_engine.begin() as conn:
        token, session = auth._open_session(
            conn, conn.execute(select(d.users).limit(1)).one(), "x", now
        )
    for _ in range(3):
        with desk_engine.begin() as conn:
            found = auth.resolve_session(conn, token, now + timedelta(minutes=1))
        assert found == session
    with desk_engine.begin() as conn:
        assert auth.resolve_session(conn, token + "x", now) is None


def _borrower_with_payments(engine: Engine) -> str:
    p, lo = t.payments, t.loans
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(lo.c.borrower_id).join(p, p.c.loan_id == lo.c.loan_id).limit(1)
            ).scalar_one()
        )


def test_account_schedules_and_payments_equal_the_loan_list_reads(desk_engine: Engine) -> None:
    borrower_id = _borrower_with_payments(desk_engine)
    for _ in range(2):
        with desk_engine.begin() as conn:
            loans, cycled = desk.loans_with_cycled_status(conn, borrower_id, AS_OF)
            ids = [row["loan_id"] for row in loans]
            status = desk.live_status(conn, ids, AS_OF, cycled=cycled)
            assert repr(desk.account_schedules(conn, borrower_id, status, AS_OF)) == repr(
                desk.schedules_of(conn, status, AS_OF)
            )
            payments = desk.account_payments(conn, borrower_id)
            assert payments, "the account has payments"
            assert repr(payments) == repr(desk.payments_of(conn, ids))


def test_audit_rows_written_directly_equal_sqlalchemy_s(store: Engine) -> None:
    # A fresh store: the shared desk holds the audit pages' ordering tests.
    from arrears.services.audit import _INSERT, record

    actor = Actor("reads-test", Role.COMPLIANCE, None, None)
    at = datetime(2026, 11, 28, 8, 15, tzinfo=UTC)
    for i in range(3):  # the second and third through the driver on PostgreSQL
        with store.begin() as conn:
            record(conn, actor, "view_borrower", "borrower", f"B{i}", at, "why", {"k": [i, "中"]})
    log = d.audit_log
    with store.begin() as conn:
        conn.execute(
            log.insert(),
            {
                "at": at,
                "actor": actor.name,
                "role": "compliance",
                "action": "view_borrower",
                "subject_type": "borrower",
                "subject_id": "B2",
                "reason": "why",
                "detail": {"k": [2, "中"]},
                "client": None,
            },
        )
        got = conn.execute(
            select(log.c.at, log.c.role, log.c.subject_id, log.c.reason, log.c.detail, log.c.client)
            .where(log.c.actor == actor.name)
            .order_by(log.c.audit_id)
        ).all()
    assert [tuple(r) for r in got] == [
        (at, "compliance", f"B{i}", "why", {"k": [i, "中"]}, None) for i in (0, 1, 2, 2)
    ]
    assert repr(got[-1]) == repr(got[-2])
    name = store.dialect.name
    plans = [p for (_, n, _), (s, p) in reads._writes.items() if s is _INSERT and n == name]
    assert plans and all(p.direct is (store.dialect.name == "postgresql") for p in plans)


def test_writes_with_python_side_defaults_go_through_sqlalchemy(store: Engine) -> None:
    from sqlalchemy import Column, Integer, MetaData, String, Table

    table = Table(
        "reads_defaults",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("v", String(8), default="dflt"),
    )
    table.create(store)
    stmt = table.insert()
    for i in range(1, 4):
        with store.begin() as conn:
            reads.write(conn, stmt, {"id": i})
    plan = next(p for (sid, _, _), (s, p) in reads._writes.items() if s is stmt)
    assert not plan.direct
    with store.connect() as conn:
        assert conn.execute(select(table.c.v)).scalars().all() == ["dflt"] * 3


def test_scoped_statements_are_shared_by_actors_of_a_shape(desk_engine: Engine) -> None:
    a = d.account_assignments
    with desk_engine.connect() as conn:
        users = conn.execute(
            select(d.users).where(d.users.c.user_id.in_(select(a.c.user_id).distinct()))
        ).all()
        owned = {
            u.user_id: conn.execute(select(a.c.borrower_id).where(a.c.user_id == u.user_id))
            .scalars()
            .first()
            for u in users
        }
    assert len(users) >= 2, "the demo desk assigns accounts to two collectors at least"
    one, other = (Actor(u.username, Role(u.role), u.user_id, u.team_id) for u in users[:2])
    if access.shape_of(one) == access.shape_of(other):
        assert access._borrower_statement(access.shape_of(one)) is access._borrower_statement(
            access.shape_of(other)
        )
    # The borrower statement itself (fetch_borrower would write audit rows into the shared
    # desk, whose audit pages are tested for order).
    stmt = access._borrower_statement(access.shape_of(one))
    for _ in range(2):  # through SQLAlchemy, then the driver on PostgreSQL
        with desk_engine.begin() as conn:

            def read(borrower_id: str) -> list[dict[str, Any]]:
                params = {"borrower_id": borrower_id, **access.scope_params(one)}
                return reads.dicts(conn, stmt, params)

            assert read(owned[one.user_id])[0]["borrower_id"] == owned[one.user_id]
            if other.team_id is None or other.team_id != one.team_id:
                assert read(owned[other.user_id]) == []


def test_prefetched_account_reads_equal_plain_reads(desk_engine: Engine) -> None:
    borrower_id = _borrower_with_payments(desk_engine)
    since = AS_OF - timedelta(days=180)

    def page(conn: Any) -> list[Any]:
        loans, cycled = desk.loans_with_cycled_status(conn, borrower_id, AS_OF)
        ids = [row["loan_id"] for row in loans]
        status = desk.live_status(conn, ids, AS_OF, cycled=cycled)
        return [
            loans,
            plans.plans_of(conn, borrower_id, limit=50),
            desk.account_schedules(conn, borrower_id, status, AS_OF),
            desk.account_payments(conn, borrower_id),
            desk.status_history_of(conn, borrower_id, since=since),
            desk.recent_notes(conn, borrower_id),
            desk.recent_contacts(conn, borrower_id),
            promises.promises_of(conn, borrower_id),
        ]

    with desk_engine.begin() as conn:
        expected = page(conn)  # and the plans learn their columns
    seen: list[str] = []

    def hook(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement)

    event.listen(desk_engine, "before_cursor_execute", hook)
    try:
        with (
            desk_engine.begin() as conn,
            desk.account_view_prefetch(conn, borrower_id, AS_OF, since, 50),
        ):
            sent = len(seen)
            got = page(conn)
            asked = len(seen) - sent
    finally:
        event.remove(desk_engine, "before_cursor_execute", hook)
    assert repr(got) == repr(expected)
    together, later = seen[:sent], seen[sent:]
    if desk_engine.dialect.name == "postgresql":
        # Eight sent together; none asked again (a loan whose status is computed live reads
        # its ledger and plans on its own).
        assert sent == 8 and not set(together) & set(later)
    else:
        assert sent == 0 and asked >= 8, "SQLite: nothing prefetched, each read when asked"
