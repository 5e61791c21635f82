"""A repayment plan in a real browser (Chromium), on both backends: a collector proposes a
plan beyond their limits, the manager approves it, the collector records the borrower's
acceptance, and the agreement PDF downloads with Chinese text.

Screenshots go to ``test-artifacts/screenshots/<backend>-plan-*.png``; the PDF and a PNG of
its first page to ``test-artifacts/plans/``. The plan is deleted afterwards (the shared demo
store is put back as it was).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import negotiation_tables as nt
from arrears.adapters.db import plan_tables as pt
from arrears.domain.people import Actor, Role
from arrears.services import plans
from fixtures.web import AS_OF, DEMO_PASSWORD

PLANS_DIR = Path(__file__).resolve().parents[3] / "test-artifacts" / "plans"


def path_of(page: Any) -> str:
    return str(urlparse(page.url).path)


def log_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("#login")


def _account_in_arrears(engine: Engine) -> tuple[str, str]:
    """The last of collector1's accounts with a penalty due (borrower, loan)."""
    with engine.connect() as conn:
        u = conn.execute(select(d.users).where(d.users.c.username == "collector1")).one()
        actor = Actor(u.username, Role(u.role), u.user_id, u.team_id)
        a = d.account_assignments.c
        found = []
        for b in conn.execute(
            select(a.borrower_id).where(a.user_id == u.user_id).order_by(a.borrower_id)
        ).scalars():
            snap = plans.plan_options(conn, actor, b, None, AS_OF, {}).snapshot
            if snap.total_due_now > 0 and snap.penalty > 0:
                found.append((b, snap.loan_id))
    assert found, "collector1 should have an account in arrears"
    return found[-1]


@pytest.fixture
def clean_plans(live_server: Any) -> Iterator[Engine]:
    engine: Engine = live_server.engine
    p, pr = pt.plans.c, nt.promises.c
    with engine.connect() as conn:
        before = conn.execute(select(func.coalesce(func.max(p.plan_id), 0))).scalar_one()
        promises_before = dict(conn.execute(select(pr.promise_id, pr.status)).all())
    yield engine
    with engine.begin() as conn:
        ids = list(conn.execute(select(p.plan_id).where(p.plan_id > before)).scalars())
        if ids:
            conn.execute(sa.delete(pt.plan_events).where(pt.plan_events.c.plan_id.in_(ids)))
            conn.execute(sa.delete(pt.plans).where(p.plan_id.in_(ids)))
        for pid, status in promises_before.items():
            conn.execute(
                sa.update(nt.promises)
                .where(pr.promise_id == pid, pr.status != status)
                .values(status=status)
            )


def test_a_plan_beyond_the_limit_is_approved_accepted_and_its_agreement_printed(
    new_page: Callable[[], Any],
    clean_plans: Engine,
    live_server: Any,
    shoot: Callable[[Any, str], None],
) -> None:
    engine = clean_plans
    account, loan = _account_in_arrears(engine)
    collector = new_page()
    log_in(collector, "collector1")
    collector.goto(f"/accounts/{account}")

    # The calculator: the income form gives the affordable options.
    with collector.expect_navigation():
        collector.click("#plan-calculator")
    assert path_of(collector) == f"/accounts/{account}/plans/calculator"
    collector.fill("#income-form input[name=income]", "9000")
    collector.fill("#income-form input[name=household_size]", "3")
    collector.fill("#income-form input[name=rent]", "1800")
    collector.fill("#income-form input[name=lump_sum]", "200")
    with collector.expect_navigation():
        collector.click("#calculate")
    assert collector.locator("#options article.option").count() == 4
    assert collector.locator("#options article[data-available=yes]").count() >= 1
    shoot(collector, "plan-calculator")

    # A plan of its own beyond the collector's limits: 12 months, half the penalty waived.
    collector.select_option("#custom-form select[name=kind]", "instalment")
    collector.fill("#custom-form input[name=months]", "12")
    collector.fill("#custom-form input[name=penalty_waiver_pct]", "50")
    with collector.expect_navigation():
        collector.click("#propose-custom")
    found = re.fullmatch(rf"/accounts/{account}/plans/(\d+)", path_of(collector))
    assert found, path_of(collector)
    plan_id = int(found.group(1))
    plan_url = f"/accounts/{account}/plans/{plan_id}"
    assert collector.locator("#plan-status").get_attribute("data-status") == "pending_approval"
    codes = collector.locator("#approval-reasons li").evaluate_all(
        "els => els.map(e => e.dataset.code)"
    )
    assert set(codes) == {"TERM_ABOVE_LIMIT", "WAIVER_ABOVE_LIMIT"}
    assert collector.locator("#decision-form").count() == 0  # not the collector's to decide
    shoot(collector, "plan-pending")

    # The manager finds it in the approvals list and approves it with a reason.
    manager = new_page()
    log_in(manager, "manager")
    with manager.expect_navigation():
        manager.click("#nav-plan-approvals")
    assert manager.locator(f"#approvals tr[data-plan='{plan_id}']").count() == 1
    with manager.expect_navigation():
        manager.click(f"#approvals tr[data-plan='{plan_id}'] a")
    assert path_of(manager) == plan_url
    manager.fill("#decision-form textarea[name=reason]", "失业证明已核实，同意减免")
    with manager.expect_navigation():
        manager.click("#approve")
    assert manager.locator("#plan-status").get_attribute("data-status") == "approved"
    assert "失业证明已核实" in manager.locator("#decision").inner_text()

    # The collector records the borrower's acceptance: the plan is active.
    collector.goto(plan_url)
    collector.select_option("#acceptance-form select[name=how]", "recorded_call")
    collector.fill("#acceptance-form input[name=reference]", "REC-20261128-01")
    with collector.expect_navigation():
        collector.click("#record-acceptance")
    assert collector.locator("#form-errors").count() == 0
    assert collector.locator("#plan-status").get_attribute("data-status") == "active"
    assert collector.locator("#evaluation-state").get_attribute("data-state") == "active"
    assert "REC-20261128-01" in collector.locator("#acceptance").inner_text()
    shoot(collector, "plan-active")
    with engine.connect() as conn:
        row = conn.execute(select(pt.plans).where(pt.plans.c.plan_id == plan_id)).one()
    assert (row.status, row.proposed_by, row.decided_by, row.accepted_recorded_by) == (
        "active",
        "collector1",
        "manager",
        "collector1",
    )

    # The agreement in Chinese downloads as a PDF with Chinese text in it.
    with collector.expect_download() as info:
        collector.click("#agreement-zh")
    download = info.value
    PLANS_DIR.mkdir(parents=True, exist_ok=True)
    pdf = PLANS_DIR / f"{live_server.backend}-agreement-zh_CN.pdf"
    download.save_as(str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    if not (shutil.which("pdftotext") and shutil.which("pdftoppm")):
        pytest.skip("poppler-utils (pdftotext, pdftoppm) not installed")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "还款协议" in text and "借款人" in text and f"PLAN-{plan_id}" in text
    assert loan in text
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 200
    stem = PLANS_DIR / f"{live_server.backend}-agreement-page1"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
        check=True,
        timeout=60,
    )
    assert stem.with_suffix(".png").stat().st_size > 10_000
    with engine.connect() as conn:
        audited = conn.execute(
            select(func.count())
            .select_from(d.audit_log)
            .where(
                d.audit_log.c.action == "download_plan_agreement",
                d.audit_log.c.subject_id == account,
            )
        ).scalar_one()
    assert audited >= 1
