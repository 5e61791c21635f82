"""Hot pages run a fixed number of SQL statements, however many loans an account has, in
one transaction (the session lookup included)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, func, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from fixtures.web import logged_in


@contextmanager
def _counting(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def hook(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


@contextmanager
def _transactions(engine: Engine) -> Iterator[list[int]]:
    begun: list[int] = []

    def hook(conn: Any) -> None:
        begun.append(1)

    event.listen(engine, "begin", hook)
    try:
        yield begun
    finally:
        event.remove(engine, "begin", hook)


def test_queue_and_account_view_query_counts(desk_app: Any, desk_engine: Engine) -> None:
    client = logged_in(desk_app, "manager")
    with desk_engine.connect() as conn:
        loans = func.count(t.loans.c.loan_id)
        rows = conn.execute(
            select(t.loans.c.borrower_id, loans).group_by(t.loans.c.borrower_id).order_by(loans)
        ).all()
    few, many = rows[0], rows[-1]
    assert many[1] > few[1], "the demo book should have an account with several loans"
    counts = []
    for borrower_id, _ in (few, many):
        with _counting(desk_engine) as seen, _transactions(desk_engine) as begun:
            assert client.get(f"/accounts/{borrower_id}").status_code == 200
        counts.append(len(seen))
        assert len(begun) == 1, "one transaction per account view, the session lookup included"
    assert counts[0] == counts[1], "the account view must not run a query per loan"
    # session, borrower with its contact persons, audit row, loans with the cycle's statuses,
    # plans to overlay (2), schedules, payments, history, notes, contacts, promises and their
    # items, plans
    assert counts[0] <= 14

    collector = logged_in(desk_app, "collector1")
    with desk_engine.connect() as conn:
        assigned = conn.execute(
            select(func.count()).select_from(d.account_assignments)
        ).scalar_one()
    assert assigned > 0
    with _counting(desk_engine) as seen, _transactions(desk_engine) as begun:
        page = collector.get("/queue")
    assert page.status_code == 200
    assert re.search(r'href="/accounts/', page.text)
    # session, the page's rows with the count and the cycle date, their labels, promise stats
    assert len(seen) <= 3  # session, the page with its names and cities, promise figures
    assert len(begun) == 1, "one transaction per work queue page, the session lookup included"
