"""Hot pages run a fixed number of SQL statements, however many loans an account has."""

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
        with _counting(desk_engine) as seen:
            assert client.get(f"/accounts/{borrower_id}").status_code == 200
        counts.append(len(seen))
    assert counts[0] == counts[1], "the account view must not run a query per loan"
    assert counts[0] <= 25

    collector = logged_in(desk_app, "collector1")
    with desk_engine.connect() as conn:
        assigned = conn.execute(
            select(func.count()).select_from(d.account_assignments)
        ).scalar_one()
    assert assigned > 0
    with _counting(desk_engine) as seen:
        page = collector.get("/queue")
    assert page.status_code == 200
    assert re.search(r'href="/accounts/', page.text)
    assert len(seen) <= 8
