"""The day's actions for real: decided at send time, kept, queued once, then dispatched."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from arrears.adapters.db import compliance_tables as ct
from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import messaging_tables as mt
from arrears.adapters.db import tables as t
from arrears.adapters.senders.http_sms import HttpSmsSender
from arrears.domain.compliance import cn_pack
from arrears.jobs.actions import propose_actions, run_actions
from arrears.services.action_sending import MessageTexts
from arrears.services.messaging import dispatch_batch
from arrears.services.strategy_files import load_arms
from fixtures.web import AS_OF, build_desk_store

TEXTS = MessageTexts("测试银行", "手机银行", "客服热线")
MORNING = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai: sent at 10:00


@pytest.fixture
def demo(store: Engine, tmp_path: Path) -> Engine:
    return build_desk_store(store.url.render_as_string(hide_password=False), tmp_path, 150)


def _count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()  # type: ignore[arg-type]
        )


def test_allowed_messages_are_queued_once_and_sent(demo: Engine) -> None:
    from tests.integration.messaging.test_outbox import SECRET, Gateway

    dry = propose_actions(demo, AS_OF, load_arms(), "Asia/Shanghai").proposals.to_pylist()
    contacts = [p for p in dry if p["channel"] is not None]
    sms = [p for p in contacts if p["channel"] == "sms" and p["allowed"]]
    letters = [p for p in contacts if p["channel"] == "letter" and p["allowed"]]
    calls = {p["borrower_id"] for p in contacts if p["channel"] == "call" and p["allowed"]}
    assert sms and calls, "the demo book should propose SMS and calls"
    result, summary = run_actions(
        demo, AS_OF, load_arms(), "Asia/Shanghai", MORNING, cn_pack(), TEXTS
    )
    assert summary.decided == len(contacts) == _count(demo, ct.gate_decisions)
    assert summary.queued == len(sms) + len(letters) == _count(demo, mt.outbox_messages)
    assert summary.call_tasks == len(calls)
    o = mt.outbox_messages
    with demo.connect() as conn:
        first = conn.execute(select(o).order_by(o.c.message_id).limit(1)).one()._mapping
        linked = conn.execute(
            select(ct.gate_decisions.c.allowed, ct.gate_decisions.c.attempt).where(
                ct.gate_decisions.c.decision_id == first["decision_id"]
            )
        ).one()
        tasks = conn.execute(
            select(d.account_assignments.c.borrower_id).where(
                d.account_assignments.c.next_action_on == AS_OF
            )
        ).all()
    assert linked.allowed is True and linked.attempt["at"].startswith("2026-11-28T10:00:00+08:00")
    assert first["next_attempt_at"] == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert "测试银行" in first["body"] and "¥" in first["body"]
    assert calls <= {r[0] for r in tasks} | (calls - _assigned(demo))
    # The same day again: decided again (kept), nothing queued twice.
    _, again = run_actions(demo, AS_OF, load_arms(), "Asia/Shanghai", MORNING, cn_pack(), TEXTS)
    assert (again.queued, again.already_queued) == (0, len(sms) + len(letters))
    assert _count(demo, mt.outbox_messages) == len(sms) + len(letters)
    gateway = Gateway()
    try:
        senders = {"sms": HttpSmsSender(gateway.url, SECRET)}
        early = dispatch_batch(demo, senders, lambda: MORNING, batch=1000)
        assert early.sent == 0  # not before 10:00
        sent = dispatch_batch(
            demo, senders, lambda: datetime(2026, 11, 28, 2, 1, tzinfo=UTC), batch=1000
        )
        assert sent.sent == len(sms) == len(gateway.accepted)
    finally:
        gateway.server.shutdown()
    assert result.proposals.num_rows == len(dry)


def _assigned(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(select(d.account_assignments.c.borrower_id))}


def test_letters_are_queued_and_printed_as_pdfs(demo: Engine, tmp_path: Path) -> None:
    import subprocess

    from arrears.adapters.senders.print_letters import PrintSender

    dry = propose_actions(demo, AS_OF, load_arms(), "Asia/Shanghai").proposals.to_pylist()
    letters = [p for p in dry if p["channel"] == "letter" and p["allowed"]]
    assert letters, "the demo book should propose letters"
    run_actions(demo, AS_OF, load_arms(), "Asia/Shanghai", MORNING, cn_pack(), TEXTS)
    o = mt.outbox_messages
    with demo.connect() as conn:
        queued = conn.execute(select(o).where(o.c.channel == "letter")).all()
        names = {
            r.borrower_id: r.name
            for r in conn.execute(select(t.borrowers.c.borrower_id, t.borrowers.c.name))
        }
    assert len(queued) == len(letters)
    first = queued[0]._mapping
    assert names[first["borrower_id"]] in first["body"]
    assert "民法典" in first["body"] and "（盖章处）" in first["body"]
    sender = PrintSender(tmp_path / "print")
    result = dispatch_batch(
        demo, {"letter": sender}, lambda: datetime(2026, 11, 28, 2, 1, tzinfo=UTC), batch=100
    )
    assert result.sent == len(letters)
    pdf = sender.file_for(first["idempotency_key"])
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert names[first["borrower_id"]] in text and "测试银行" in text


def test_an_open_promise_holds_reminders_and_is_reminded_the_day_before(demo: Engine) -> None:
    """A borrower past due promises ¥1,234.56 for tomorrow: today's run sends the promise
    reminder (with the promised amount and date), not the routine ladder."""
    import sqlalchemy as sa

    from arrears.adapters.db import negotiation_tables as nt

    dry = propose_actions(demo, AS_OF, load_arms(), "Asia/Shanghai").proposals.to_pylist()
    chased = sorted(
        {p["borrower_id"] for p in dry if p["segment"].startswith("M1") and p["allowed"]}
    )
    assert chased, "the demo book should have M1 accounts with actions today"
    borrower = chased[0]
    with demo.begin() as conn:
        pid = conn.execute(
            sa.insert(nt.promises).values(
                borrower_id=borrower,
                channel="phone",
                promised_by="borrower",
                made_on=AS_OF,
                total_minor=123456,
                tolerance_minor=100,
                status="open",
                recorded_by="collector1",
                created_at=MORNING,
            )
        ).inserted_primary_key[0]
        conn.execute(
            sa.insert(nt.promise_items).values(
                promise_id=pid, seq=1, due_on=date(2026, 11, 29), amount_minor=123456
            )
        )
    result, _ = run_actions(demo, AS_OF, load_arms(), "Asia/Shanghai", MORNING, cn_pack(), TEXTS)
    mine = [r for r in result.proposals.to_pylist() if r["borrower_id"] == borrower]
    assert [(r["segment"], r["template"]) for r in mine] == [
        ("promise-open", "sms_promise_reminder")
    ]
    o = mt.outbox_messages
    with demo.connect() as conn:
        body = conn.execute(
            select(o.c.body).where(
                o.c.borrower_id == borrower, o.c.template == "sms_promise_reminder"
            )
        ).scalar_one()
    assert "¥1,234.56" in body and "2026-11-29" in body
