"""``arrears actions --dry-run`` on the demo store: counts equal an independent computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from typer.testing import CliRunner

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import tables as t
from arrears.cli import cli
from arrears.jobs.actions import propose_actions
from arrears.services.promises import settle_promises
from arrears.services.strategy_files import load_arms
from fixtures.web import AS_OF, build_desk_store


@pytest.fixture
def demo(store: Engine, tmp_path: Path) -> Engine:
    url = store.url.render_as_string(hide_password=False)
    return build_desk_store(url, tmp_path, borrowers=150)


def _current_accounts(engine: Engine, days_ahead: int) -> set[str]:
    """Borrowers whose unpaid loans are all current and the nearest due date is in N days."""
    h = t.status_history.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(h.borrower_id, h.dpd, h.next_due_date).where(
                h.as_of == AS_OF, h.paid_off.is_(False)
            )
        ).all()
    worst: dict[str, int] = {}
    nearest: dict[str, object] = {}
    for b, dpd, due in rows:
        worst[b] = max(worst.get(b, 0), dpd)
        if due is not None and (b not in nearest or due < nearest[b]):  # type: ignore[operator]
            nearest[b] = due
    target = AS_OF + timedelta(days=days_ahead)
    return {b for b, w in worst.items() if w == 0 and nearest.get(b) == target}


def _broken_promise(engine: Engine) -> str:
    """A promise made 5 days ago for yesterday, on an overdue account that paid nothing since."""
    h = t.status_history.c
    with engine.begin() as conn:
        paid = (
            sa.select(t.loans.c.borrower_id)
            .join_from(t.payments, t.loans, t.payments.c.loan_id == t.loans.c.loan_id)
            .where(t.payments.c.paid_on >= AS_OF - timedelta(days=5))
        )
        borrower = conn.execute(
            sa.select(h.borrower_id)
            .where(h.as_of == AS_OF, h.paid_off.is_(False), h.borrower_id.not_in(paid))
            .group_by(h.borrower_id)
            .having(sa.func.max(h.dpd).between(1, 120))
            .order_by(h.borrower_id)
            .limit(1)
        ).scalar_one()
        moment = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
        attempt = conn.execute(
            sa.insert(d.contact_attempts).values(
                borrower_id=borrower,
                channel="phone",
                answered=True,
                right_party=True,
                outcome="promise_to_pay",
                recorded_by="collector1",
                at=moment,
                created_at=moment,
            )
        ).inserted_primary_key[0]
        promise = conn.execute(
            sa.insert(nt.promises).values(
                borrower_id=borrower,
                channel="phone",
                promised_by="borrower",
                attempt_id=attempt,
                made_on=AS_OF - timedelta(days=5),
                total_minor=50000,
                tolerance_minor=100,
                status="open",
                recorded_by="collector1",
                created_at=moment,
            )
        ).inserted_primary_key[0]
        conn.execute(
            sa.insert(nt.promise_items).values(
                promise_id=promise, seq=1, due_on=AS_OF - timedelta(days=1), amount_minor=50000
            )
        )
        # The cycle settles it: nothing paid by yesterday → broken, as of today.
        assert settle_promises(conn, AS_OF, moment) == {"broken": 1}
    return borrower


def test_job_counts_equal_an_independent_computation(demo: Engine) -> None:
    broken = _broken_promise(demo)
    result = propose_actions(demo, AS_OF, load_arms(), "Asia/Shanghai")
    rows = result.proposals.to_pylist()
    pre3 = {r["borrower_id"] for r in rows if r["segment"] == "current" and r["step"] == "D-3"}
    due0 = {r["borrower_id"] for r in rows if r["segment"] == "current" and r["step"] == "D0"}
    assert pre3 == _current_accounts(demo, 3)
    assert due0 == _current_accounts(demo, 0)
    assert pre3 | due0, "the demo book should have accounts due soon"
    visits = {(r["segment"], r["action"]) for r in rows if r["borrower_id"] == broken}
    assert visits == {("broken-promise", "door_visit"), ("broken-promise", "call_task")}
    assert result.gated and all(isinstance(r["allowed"], bool) for r in rows)


def test_cli_dry_run_prints_counts_and_writes_proposals(
    demo: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_DATABASE_URL", demo.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARREARS_DATA_DIR", str(tmp_path))
    out = tmp_path / "proposals.csv"
    res = CliRunner().invoke(
        cli, ["actions", "--as-of", AS_OF.isoformat(), "--dry-run", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "per action" in res.output and "compliance gate:" in res.output
    table = pacsv.read_csv(out)
    n_pre3 = sum(1 for s in table["step"].to_pylist() if s == "D-3")
    assert n_pre3 == len(_current_accounts(demo, 3))
    assert f"proposals for {AS_OF.isoformat()}: {table.num_rows}" in res.output


def test_cli_reports_a_bad_strategy_with_its_line(
    demo: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARREARS_DATABASE_URL", demo.url.render_as_string(hide_password=False))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nsegments:\n  - name: s\n    steps: [{offset: x}]\n")
    res = CliRunner().invoke(
        cli, ["actions", "--as-of", AS_OF.isoformat(), "--dry-run", "--strategy", str(bad)]
    )
    assert res.exit_code == 2
    assert "bad.yaml:5" in res.output and "segments[0].steps[0].offset" in res.output


def test_the_batch_honours_account_events_and_past_calls(demo: Engine) -> None:
    """A cease request blocks every contact of that account (CN-H2); unanswered calls to the
    borrower's own number count toward CN-F1 for a call task proposed the same day."""
    from arrears.adapters.db import compliance_tables as ct

    first = propose_actions(demo, AS_OF, load_arms(), "Asia/Shanghai").proposals.to_pylist()
    contacted = sorted({r["borrower_id"] for r in first if r["channel"] is not None})
    assert contacted, "the demo book should propose contacts"
    ceased = contacted[0]
    calls = [r["borrower_id"] for r in first if r["channel"] == "call" and r["allowed"]]
    assert calls, "the demo book should propose call tasks"
    busy = next(b for b in calls if b != ceased)
    moment = datetime(2026, 11, 20, tzinfo=UTC)
    with demo.begin() as conn:
        conn.execute(
            sa.insert(ct.account_events).values(
                borrower_id=ceased,
                kind="cease",
                at=moment,
                recorded_by="compliance",
                created_at=moment,
            )
        )
        for k in range(6):  # six unanswered calls today (Shanghai) to the borrower's phone
            at = datetime(2026, 11, 28, 1, 0, tzinfo=UTC) + timedelta(minutes=10 * k)
            conn.execute(
                sa.insert(d.contact_attempts).values(
                    borrower_id=busy,
                    channel="phone",
                    answered=False,
                    right_party=False,
                    outcome="no_answer",
                    recorded_by="collector1",
                    at=at,
                    created_at=at,
                )
            )
    again = propose_actions(demo, AS_OF, load_arms(), "Asia/Shanghai").proposals.to_pylist()
    mine = [r for r in again if r["borrower_id"] == ceased and r["channel"] is not None]
    assert mine and all(not r["allowed"] and "CN-H2" in r["blocked_by"] for r in mine)
    theirs = [r for r in again if r["borrower_id"] == busy and r["channel"] == "call"]
    assert theirs and all(not r["allowed"] and "CN-F1" in r["blocked_by"] for r in theirs)
