"""Repayment plans in the app: the calculator, proposing within and beyond a role's limits,
four eyes, the borrower's acceptance, the agreement PDF, the cycle's monitoring and the
strategy features — on SQLite and PostgreSQL.

The web flow changes the shared demo store and puts it back afterwards (``undo_plans``); the
service tests run inside a transaction that is rolled back.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, func, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import plan_tables as pt
from arrears.adapters.db import tables as t
from arrears.adapters.db.tables import metadata
from arrears.domain.errors import Forbidden, ValidationError
from arrears.domain.negotiation import IncomeExpenditure, PlanKind, terms_from_data
from arrears.domain.people import Actor, Role
from arrears.services import plans
from arrears.services.access import visible_accounts
from arrears.services.promises import next_promised, promise_features
from fixtures.web import AS_OF, FixedClock, csrf_of, logged_in

NOW = FixedClock().now()


def test_the_tables_match_their_migration(store: Engine) -> None:
    with store.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [x for x in diffs if "plan" in repr(x)] == []


def _actor(conn: Connection, username: str) -> Actor:
    u = conn.execute(select(d.users).where(d.users.c.username == username)).one()
    return Actor(u.username, Role(u.role), u.user_id, u.team_id)


def _due_accounts(engine: Engine, username: str = "collector1") -> list[tuple[str, str]]:
    """(borrower, loan) of the user's accounts with money due now, by borrower id."""
    out = []
    with engine.connect() as conn:
        actor = _actor(conn, username)
        a = d.account_assignments.c
        mine = conn.execute(
            select(a.borrower_id)
            .join(d.users, d.users.c.user_id == a.user_id)
            .where(d.users.c.username == username)
            .order_by(a.borrower_id)
        ).scalars()
        for b in mine:
            snap = plans.plan_options(conn, actor, b, None, AS_OF, {}).snapshot
            if snap.total_due_now > 0 and snap.penalty > 0:
                out.append((b, snap.loan_id))
    assert len(out) >= 3, "the demo book should give collector1 three accounts in arrears"
    return out


@pytest.fixture
def undo_plans(desk_engine: Engine) -> Iterator[None]:
    """Plans made by the test are deleted afterwards; promises and flags put back."""
    p, pr = pt.plans.c, nt.promises.c
    with desk_engine.connect() as conn:
        before = conn.execute(select(func.coalesce(func.max(p.plan_id), 0))).scalar_one()
        promises_before = {
            r.promise_id: (r.status, r.settled_on)
            for r in conn.execute(select(pr.promise_id, pr.status, pr.settled_on))
        }
        flags = dict(conn.execute(select(t.loans.c.loan_id, t.loans.c.restructured)).all())
    yield
    with desk_engine.begin() as conn:
        ids = list(conn.execute(select(p.plan_id).where(p.plan_id > before)).scalars())
        if ids:
            conn.execute(sa.delete(pt.plan_events).where(pt.plan_events.c.plan_id.in_(ids)))
            conn.execute(sa.delete(pt.plans).where(p.plan_id.in_(ids)))
        for pid, (status, settled) in promises_before.items():
            conn.execute(
                sa.update(nt.promises)
                .where(pr.promise_id == pid, pr.status != status)
                .values(status=status, settled_on=settled)
            )
        for loan, flag in flags.items():
            conn.execute(
                sa.update(t.loans)
                .where(t.loans.c.loan_id == loan, t.loans.c.restructured != flag)
                .values(restructured=flag)
            )


def _plan(engine: Engine, plan_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(pt.plans).where(pt.plans.c.plan_id == plan_id)).one()


def _audit(engine: Engine, action: str, subject: str) -> list[Any]:
    a = d.audit_log.c
    with engine.connect() as conn:
        return conn.execute(
            select(d.audit_log)
            .where(a.action == action, a.subject_id == subject)
            .order_by(a.audit_id)
        ).all()


def _plan_id(response: Any) -> int:
    assert response.status_code == 303, response.text[-2000:]
    return int(response.headers["location"].rsplit("/", 1)[1])


def test_a_plan_from_proposal_to_acceptance_on_the_pages(
    desk_app: Any, desk_engine: Engine, undo_plans: None
) -> None:
    account, loan = _due_accounts(desk_engine)[0]
    collector = logged_in(desk_app, "collector1")
    manager = logged_in(desk_app, "manager")
    base = f"/accounts/{account}"

    # The account page links the calculator; the calculator shows the loan at the start.
    page = collector.get(base)
    assert f'href="{base}/plans/calculator"' in page.text
    calc = collector.get(f"{base}/plans/calculator?loan_id={loan}")
    assert calc.status_code == 200 and 'id="due-now"' in calc.text
    # The income form: affordable options with schedules, badges and the excluded kinds.
    options = collector.post(
        f"{base}/plans/calculator",
        data={
            "csrf_token": csrf_of(calc.text),
            "loan_id": loan,
            "income": "9000",
            "household_size": "2",
            "rent": "1500",
            "lump_sum": "300",
        },
    )
    assert options.status_code == 200
    assert options.text.count('class="option"') == 4
    assert 'data-available="yes"' in options.text and "plan-schedule" in options.text
    assert 'data-code="NOT_OFFERED"' not in options.text or 'data-available="no"' in options.text
    bad = collector.post(
        f"{base}/plans/calculator",
        data={"csrf_token": csrf_of(calc.text), "loan_id": loan, "income": "x"},
    )
    assert bad.status_code == 422 and "not an amount" in bad.text

    # Within the collector's limits (3 months, 20 % waiver): approved on their own authority.
    csrf = csrf_of(calc.text)
    within = _plan_id(
        collector.post(
            f"{base}/plans",
            data={
                "csrf_token": csrf,
                "loan_id": loan,
                "kind": "instalment",
                "months": "3",
                "penalty_waiver_pct": "20",
            },
            follow_redirects=False,
        )
    )
    row = _plan(desk_engine, within)
    assert (row.status, row.approval_required, row.decided_by, row.proposed_by) == (
        "approved",
        False,
        "collector1",
        "collector1",
    )
    terms = terms_from_data(row.terms)
    assert row.waived_minor > 0 and Decimal(row.waived_minor) / 100 == terms.waiver.total
    assert row.payable_minor == int(terms.payable * 100) and terms.start == AS_OF
    # A second plan for the same loan is refused while this one is open.
    again = collector.post(
        f"{base}/plans",
        data={"csrf_token": csrf, "loan_id": loan, "kind": "instalment", "months": "2"},
    )
    assert again.status_code == 422 and f"already has plan {within}" in again.text
    # Bad parameters name the field.
    for fields, message in (
        ({"kind": "instalment"}, "months"),
        ({"kind": "instalment", "months": "0"}, "between 1 and 120"),
        ({"kind": "settlement"}, "settlement_amount"),
        ({"kind": "holiday"}, "choose a plan kind"),
        ({"kind": "instalment", "months": "3", "penalty_waiver_pct": "130"}, "percentage"),
    ):
        r = collector.post(f"{base}/plans", data={"csrf_token": csrf, "loan_id": loan, **fields})
        assert r.status_code == 422 and message in r.text, (fields, message)
    plan_page = collector.get(f"{base}/plans/{within}")
    r = collector.post(
        f"{base}/plans/{within}/cancel",
        data={"csrf_token": csrf_of(plan_page.text), "reason": "borrower wants longer"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and _plan(desk_engine, within).status == "cancelled"

    # A plan beyond every role's limits is refused (nobody could approve it).
    r = collector.post(
        f"{base}/plans",
        data={"csrf_token": csrf, "loan_id": loan, "kind": "instalment", "months": "30"},
    )
    assert r.status_code == 422 and "no role may approve" in r.text

    # The calculator's option, proposed as it was shown (the form travels with it).
    form = {"income": "9000", "household_size": "2", "rent": "1500", "lump_sum": "300"}
    option = _plan_id(
        collector.post(
            f"{base}/plans",
            data={
                "csrf_token": csrf,
                "loan_id": loan,
                "kind": "instalment",
                "from_option": "1",
                **form,
            },
            follow_redirects=False,
        )
    )
    row = _plan(desk_engine, option)
    with desk_engine.connect() as conn:
        shown_option = next(
            v.option
            for v in plans.plan_options(
                conn,
                _actor(conn, "collector1"),
                account,
                loan,
                AS_OF,
                {},
                income=plans.parse_income(form),
            ).options
            if v.option.kind is PlanKind.INSTALMENT
        )
    assert shown_option.terms == terms_from_data(row.terms)
    assert shown_option.authority is not None
    assert row.approval_required == shown_option.authority.needs_approval
    assert row.income_expenditure["monthly_income"] == "9000"
    option_page = collector.get(f"{base}/plans/{option}")
    assert 'id="affordability"' in option_page.text
    r = collector.post(
        f"{base}/plans/{option}/cancel",
        data={"csrf_token": csrf_of(option_page.text), "reason": "shown only"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and _plan(desk_engine, option).status == "cancelled"

    # Beyond the limits (12 months, 50 % waiver): pending, with the reasons.
    beyond = _plan_id(
        collector.post(
            f"{base}/plans",
            data={
                "csrf_token": csrf,
                "loan_id": loan,
                "kind": "instalment",
                "months": "12",
                "penalty_waiver_pct": "50",
                "compound_waiver_pct": "50",
            },
            follow_redirects=False,
        )
    )
    row = _plan(desk_engine, beyond)
    assert row.status == "pending_approval" and row.approval_required
    codes = {line.split(":")[0] for line in row.approval_reasons.splitlines()}
    assert codes == {"TERM_ABOVE_LIMIT", "WAIVER_ABOVE_LIMIT"}
    plan_url = f"{base}/plans/{beyond}"
    shown = collector.get(plan_url)
    assert 'data-status="pending_approval"' in shown.text
    assert 'data-code="TERM_ABOVE_LIMIT"' in shown.text and 'id="decision-form"' not in shown.text
    # The collector can neither decide nor record an acceptance before approval.
    r = collector.post(
        f"{plan_url}/decision",
        data={"csrf_token": csrf_of(shown.text), "decision": "approve", "reason": "mine"},
    )
    assert r.status_code == 403
    r = collector.post(
        f"{plan_url}/acceptance",
        data={"csrf_token": csrf_of(shown.text), "how": "recorded_call", "reference": "R-1"},
    )
    assert r.status_code == 422 and "only an approved plan" in r.text
    # Another team's collector does not see it.
    assert logged_in(desk_app, "collector2").get(plan_url).status_code == 404

    # The manager's list, then a decision: a rejection needs a reason; approve with one.
    listed = manager.get("/plans/approvals")
    assert listed.status_code == 200 and f'data-plan="{beyond}"' in listed.text
    assert 'id="nav-plan-approvals"' in listed.text
    assert 'id="nav-plan-approvals"' not in collector.get("/queue").text
    mpage = manager.get(plan_url)
    assert 'id="decision-form"' in mpage.text
    r = manager.post(
        f"{plan_url}/decision",
        data={"csrf_token": csrf_of(mpage.text), "decision": "reject", "reason": " "},
    )
    assert r.status_code == 422 and _plan(desk_engine, beyond).status == "pending_approval"
    r = manager.post(
        f"{plan_url}/decision",
        data={"csrf_token": csrf_of(mpage.text), "decision": "approve", "reason": "失业证明已核实"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    row = _plan(desk_engine, beyond)
    assert (row.status, row.decided_by, row.decision_reason) == (
        "approved",
        "manager",
        "失业证明已核实",
    )
    approvals = _audit(desk_engine, "approve_plan", account)
    assert approvals[-1].reason == "失业证明已核实" and approvals[-1].actor == "manager"
    assert approvals[-1].detail["plan_id"] == beyond

    # The borrower's acceptance: the plan is active, the open promise is cancelled.
    acc = collector.get(base)
    r = collector.post(
        f"{base}/promises",
        data={
            "csrf_token": csrf_of(acc.text),
            "date_1": (AS_OF + timedelta(days=3)).isoformat(),
            "amount_1": "100",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    shown = collector.get(plan_url)
    assert 'id="acceptance-form"' in shown.text
    r = collector.post(
        f"{plan_url}/acceptance",
        data={"csrf_token": csrf_of(shown.text), "how": "recorded_call", "reference": " "},
    )
    assert r.status_code == 422 and "reference" in r.text
    r = collector.post(
        f"{plan_url}/acceptance",
        data={"csrf_token": csrf_of(shown.text), "how": "recorded_call", "reference": "REC-77"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    row = _plan(desk_engine, beyond)
    assert (row.status, row.accepted_how, row.acceptance_reference, row.accepted_recorded_by) == (
        "active",
        "recorded_call",
        "REC-77",
        "collector1",
    )
    with desk_engine.connect() as conn:
        open_promises = conn.execute(
            select(func.count())
            .select_from(nt.promises)
            .where(nt.promises.c.borrower_id == account, nt.promises.c.status == "open")
        ).scalar_one()
    assert open_promises == 0
    accepted = _audit(desk_engine, "accept_plan", account)[-1]
    assert accepted.detail["promises_cancelled"] and accepted.reason == "REC-77"
    shown = collector.get(plan_url)
    assert 'data-state="active"' in shown.text and 'id="next-instalment"' in shown.text
    assert 'class="plan-active"' in collector.get(base).text

    # The agreement PDF: an audited view of personal data, in Chinese.
    before = len(_audit(desk_engine, "unmask_pii", account))
    pdf = collector.get(f"{plan_url}/agreement.pdf?locale=zh_CN")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert len(_audit(desk_engine, "unmask_pii", account)) == before + 1
    download = _audit(desk_engine, "download_plan_agreement", account)[-1]
    assert download.detail["sha256"] == _plan(desk_engine, beyond).agreement_sha256
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-layout", "-", "-"],
            input=pdf.content,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
        assert "还款协议" in text and f"PLAN-{beyond}" in text and loan in text
        english = collector.get(f"{plan_url}/agreement.pdf?locale=en")
        assert english.status_code == 200
        text = subprocess.run(
            ["pdftotext", "-layout", "-", "-"],
            input=english.content,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
        assert "agreement" in text.lower() and f"PLAN-{beyond}" in text
    assert collector.get(f"{plan_url}/agreement.pdf?locale=fr").status_code == 422
    # Compliance may read the plan and its agreement, but not act on it.
    auditor = logged_in(desk_app, "compliance")
    page = auditor.get(plan_url)
    assert page.status_code == 200 and 'id="acceptance-form"' not in page.text
    assert 'id="cancel-form"' not in page.text


def _propose(conn: Connection, actor: Actor, borrower: str, loan: str, **fields: Any) -> int:
    return plans.propose_plan(
        conn, actor, borrower, loan, plans.PlanRequest(**fields), AS_OF, NOW, {}
    )


def test_four_eyes_and_a_restructure(desk_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    (_, _), (borrower, loan), (other, other_loan) = _due_accounts(desk_engine)[:3]
    with desk_engine.connect() as conn:
        tx = conn.begin()
        try:
            manager = _actor(conn, "manager")
            collector = _actor(conn, "collector1")
            second = Actor("manager-b", Role.MANAGER, None, None)
            compliance = _actor(conn, "compliance")
            # Half of everything owed: beyond every role's limits, refused at once.
            snap = plans.plan_options(conn, manager, borrower, loan, AS_OF, {}).snapshot
            half = (snap.total_owed / 2).quantize(Decimal("0.01"))
            with pytest.raises(ValidationError, match="no role may approve"):
                _propose(
                    conn, manager, borrower, loan, kind=PlanKind.SETTLEMENT, settlement_amount=half
                )
            # A 20 % discount: beyond the collector's limit (0 %), within the manager's.
            amount = (snap.total_owed * Decimal("0.8")).quantize(Decimal("0.01"))
            pid = _propose(
                conn, collector, borrower, loan, kind=PlanKind.SETTLEMENT, settlement_amount=amount
            )
            row = conn.execute(select(pt.plans).where(pt.plans.c.plan_id == pid)).one()
            assert row.status == "pending_approval"
            assert row.approval_reasons.startswith("DISCOUNT_ABOVE_LIMIT")
            # Four eyes: the proposer, promoted to manager since, still may not decide it.
            promoted = Actor("collector1", Role.MANAGER, collector.user_id, None)
            with pytest.raises(ValidationError, match="four eyes"):
                plans.decide_plan(conn, promoted, pid, True, "ok by me", NOW, AS_OF)
            with pytest.raises(ValidationError, match="four eyes"):
                plans.decide_plan(conn, promoted, pid, False, "withdrawn", NOW, AS_OF)
            with pytest.raises(ValidationError, match="say why"):
                plans.decide_plan(conn, second, pid, False, "", NOW, AS_OF)
            with pytest.raises(Forbidden):
                plans.decide_plan(conn, collector, pid, False, "no", NOW, AS_OF)
            with pytest.raises(Forbidden):
                _propose(conn, compliance, borrower, loan, kind=PlanKind.INSTALMENT, months=2)
            # An approver whose limits do not cover the plan may not approve it.
            narrow = dict(plans.ROLE_LIMITS)
            narrow[Role.MANAGER] = replace(
                narrow[Role.MANAGER], max_settlement_discount_pct=Decimal("0.1")
            )
            monkeypatch.setattr(plans, "ROLE_LIMITS", narrow)
            with pytest.raises(ValidationError, match="settlement discount"):
                plans.decide_plan(conn, second, pid, True, "agreed", NOW, AS_OF)
            monkeypatch.undo()
            assert plans.decide_plan(conn, second, pid, False, "too generous", NOW, AS_OF) == (
                plans.PlanStatus.REJECTED
            )
            assert [r.reason for r in _audit_in(conn, "reject_plan", borrower)] == ["too generous"]
            # The rejected plan no longer blocks: a restructure by the collector needs approval.
            rid = _propose(conn, collector, borrower, loan, kind=PlanKind.RESTRUCTURE, months=12)
            row = conn.execute(select(pt.plans).where(pt.plans.c.plan_id == rid)).one()
            assert row.status == "pending_approval"
            assert "RESTRUCTURE_NOT_ALLOWED" in row.approval_reasons
            assert plans.decide_plan(conn, manager, rid, True, "new job, lower income", NOW, AS_OF)
            flag = select(t.loans.c.restructured).where(t.loans.c.loan_id == loan)
            assert conn.execute(flag).scalar_one() is False
            plans.record_acceptance(conn, collector, rid, "signed_paper", "DOC-9", NOW, AS_OF)
            assert conn.execute(flag).scalar_one() is True
            row = conn.execute(select(pt.plans).where(pt.plans.c.plan_id == rid)).one()
            assert row.status == "active" and terms_from_data(row.terms).restructure is not None
            # An offer not accepted within its validity is refused.
            oid = _propose(conn, collector, other, other_loan, kind=PlanKind.INSTALMENT, months=2)
            with pytest.raises(ValidationError, match="propose the plan again"):
                plans.record_acceptance(
                    conn, collector, oid, "sms_code", "123456", NOW, AS_OF + timedelta(days=8)
                )
            # Scope: collector2 does not see collector1's plans.
            with pytest.raises(Exception, match="no account"):
                plans.plan_view(conn, _actor(conn, "collector2"), rid, AS_OF)
            pending = plans.pending_approvals(conn, manager)
            assert all(p["status"] == "pending_approval" for p in pending)
        finally:
            tx.rollback()


def _audit_in(conn: Connection, action: str, subject: str) -> list[Any]:
    a = d.audit_log.c
    return conn.execute(
        select(d.audit_log).where(a.action == action, a.subject_id == subject).order_by(a.audit_id)
    ).all()


def _pay(conn: Connection, loan: str, on: date, amount: Decimal, key: str) -> None:
    moment = datetime.combine(on, datetime.min.time(), tzinfo=UTC) + timedelta(hours=3)
    conn.execute(
        sa.insert(t.payments).values(
            payment_id=f"PLAN-TEST-{key}",
            loan_id=loan,
            paid_at=moment,
            paid_on=on,
            amount_minor=int(amount * 100),
            created_at=moment,
        )
    )


def test_the_cycle_breaks_completes_and_feeds_the_strategy(desk_engine: Engine) -> None:
    """Two active plans: one is never paid (broken past its grace, the waiver reinstated),
    one is paid in full (kept and completed). Rolled back afterwards."""
    accounts = _due_accounts(desk_engine)
    (b1, l1), (b2, l2) = accounts[1], accounts[2]
    with desk_engine.connect() as conn:
        tx = conn.begin()
        try:
            # other tests' plans are out of the way (all rolled back below)
            conn.execute(sa.update(pt.plans).values(status="cancelled"))
            collector = _actor(conn, "collector1")
            broken = _propose(
                conn,
                collector,
                b1,
                l1,
                kind=PlanKind.INSTALMENT,
                months=3,
                penalty_waiver=Decimal("0.2"),
            )
            snap2 = plans.plan_options(conn, collector, b2, l2, AS_OF, {}).snapshot
            paid = _propose(
                conn,
                collector,
                b2,
                l2,
                kind=PlanKind.SETTLEMENT,
                settlement_amount=snap2.total_owed,
            )
            for pid in (broken, paid):
                assert plans.plan_row(conn, collector, pid).status == "approved"
                plans.record_acceptance(conn, collector, pid, "in_app", f"APP-{pid}", NOW, AS_OF)
            terms1 = terms_from_data(plans.plan_row(conn, collector, broken).terms)
            first = terms1.instalments[0]
            grace_end = first.due_date + timedelta(days=terms1.grace_days)

            # Day one: both active; the strategy sees open arrangements.
            features = {f[0]: f for f in promise_features(conn, AS_OF)}
            assert features[b1][1:] == ("open", None, (first.due_date - AS_OF).days)
            # A promise reminder names the plan's next instalment.
            assert next_promised(conn, [b1]) == {b1: (first.due_date, int(first.amount * 100))}
            # The settlement is due today: unpaid at the end of the day (grace 0), it breaks.
            assert features[b2][1:] == ("broken", 0, None)

            # The settlement is paid in full that day: kept and completed.
            _pay(conn, l2, AS_OF, snap2.total_owed, "SETTLE")
            assert plans.settle_plans(conn, AS_OF, NOW) == {"completed": 1}
            row2 = plans.plan_row(conn, collector, paid)
            assert row2.status == "completed" and row2.settled_on == AS_OF
            assert row2.paid_minor == int(snap2.total_owed * 100)
            assert b2 not in {f[0] for f in promise_features(conn, AS_OF) if f[1] == "broken"}

            # The instalment plan: still active on the last day of grace, broken the day after
            # (the monitor dates the break on the last day of grace).
            assert plans.settle_plans(conn, grace_end - timedelta(days=1), NOW) == {}
            assert plans.plan_row(conn, collector, broken).status == "active"
            assert plans.settle_plans(conn, grace_end, NOW) == {"broken": 1}
            row1 = plans.plan_row(conn, collector, broken)
            assert row1.status == "broken" and row1.settled_on == grace_end
            # Re-running the day changes nothing and records nothing new.
            e = pt.plan_events.c
            n_events = conn.execute(select(func.count()).select_from(pt.plan_events)).scalar()
            assert plans.settle_plans(conn, grace_end, NOW) == {}
            assert conn.execute(select(func.count()).select_from(pt.plan_events)).scalar() == (
                n_events
            )
            kinds = {
                pid: sorted(conn.execute(select(e.kind).where(e.plan_id == pid)).scalars().all())
                for pid in (broken, paid)
            }
            assert kinds[broken] == [
                "accepted",
                "approved",
                "plan_broken",
                "proposed",
                "waiver_reinstated",
            ]
            assert kinds[paid] == [
                "accepted",
                "approved",
                "plan_completed",
                "plan_kept",
                "proposed",
            ]
            reinstated = conn.execute(
                select(e.amount_minor).where(e.plan_id == broken, e.kind == "waiver_reinstated")
            ).scalar_one()
            assert reinstated == int(terms1.waiver.total * 100) > 0
            batch = {
                r.action
                for r in conn.execute(
                    select(d.audit_log.c.action, d.audit_log.c.actor).where(
                        d.audit_log.c.actor == "system:daily-batch",
                        d.audit_log.c.action.in_(
                            ["plan_broken", "waiver_reinstated", "plan_kept", "plan_completed"]
                        ),
                    )
                )
            }
            assert batch == {"plan_broken", "waiver_reinstated", "plan_kept", "plan_completed"}
            # The strategy: a broken plan is a broken arrangement from the day it broke.
            later = grace_end + timedelta(days=2)
            features = {f[0]: f for f in promise_features(conn, later)}
            assert features[b1][1:] == ("broken", 2, None)
            assert b1 in {
                r[0]
                for r in conn.execute(
                    select(t.borrowers.c.borrower_id).where(visible_accounts(collector))
                )
            }
        finally:
            tx.rollback()


def test_the_calculator_service_explains_what_is_out(desk_engine: Engine) -> None:
    borrower, loan = _due_accounts(desk_engine)[0]
    with desk_engine.connect() as conn:
        collector = _actor(conn, "collector1")
        poor = IncomeExpenditure(Decimal("1500"), 3, rent=Decimal("800"))
        found = plans.plan_options(conn, collector, borrower, loan, AS_OF, {}, income=poor)
        assert found.proposal is not None and found.proposal.disposable < 0
        assert all(not v.option.available for v in found.options)
        assert {r.code for v in found.options for r in v.option.reasons} >= {"UNAFFORDABLE"}
        rich = IncomeExpenditure(Decimal("30000"), 1)
        found = plans.plan_options(conn, collector, borrower, loan, AS_OF, {}, income=rich)
        instalment = next(v for v in found.options if v.option.kind is PlanKind.INSTALMENT)
        assert instalment.option.terms is not None and instalment.option.recovery is not None
        assert instalment.option.authority is not None
        assert not instalment.option.authority.needs_approval
        assert "collector" in instalment.approvers
        restructure = next(v for v in found.options if v.option.kind is PlanKind.RESTRUCTURE)
        if restructure.option.terms is not None:
            assert restructure.option.authority is not None
            assert restructure.option.authority.needs_approval
            assert restructure.approvers == ("manager",)
