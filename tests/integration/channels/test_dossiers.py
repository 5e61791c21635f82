"""Visit dossiers (issue 6, "prepare"): gathered from the demo store through the access layer
(masked for a field agent, unmasked for a manager who gives a reason, audited), rendered in
zh-CN and English and read back with pdftotext / pdffonts; page 1 saved as a PNG under
test-artifacts/dossiers/. Runs on SQLite and PostgreSQL (the shared ``desk_engine``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.contacts import Channel, ContactOutcome, DelinquencyReason
from arrears.domain.errors import NotFound, ValidationError
from arrears.domain.negotiation.affordability import AffordabilityPolicy, IncomeExpenditure
from arrears.domain.negotiation.plans import PlanKind
from arrears.domain.people import Actor, Role, mask_id_number, mask_name
from arrears.services.desk import ContactInput, log_contact
from arrears.services.dossiers import (
    DOSSIER_PURPOSE,
    Dossier,
    dossier_html,
    dossier_pdf,
    gather_dossier,
)
from arrears.services.plans import ROLE_LIMITS
from arrears.services.promises import PromiseInput, record_promise
from fixtures.web import AS_OF, FixedClock

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dossiers"
NOW = FixedClock().now()

needs_poppler = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdftotext", "pdftoppm", "pdffonts")),
    reason="poppler-utils (pdftotext, pdftoppm, pdffonts) not installed",
)


def _actor(conn: Connection, username: str) -> Actor:
    u = conn.execute(select(d.users).where(d.users.c.username == username)).one()
    return Actor(u.username, Role(u.role), u.user_id, u.team_id)


def _field_account(conn: Connection) -> str:
    """The most delinquent account assigned to field1 (the demo gives field1 the M3 bucket)."""
    a, u = d.account_assignments, d.users
    found = conn.execute(
        select(a.c.borrower_id)
        .join(u, u.c.user_id == a.c.user_id)
        .where(u.c.username == "field1")
        .order_by(a.c.dpd.desc(), a.c.borrower_id)
    ).scalar()
    assert found is not None, "the demo assigns accounts to field1"
    return str(found)


def _gather(conn: Connection, username: str, borrower: str, **kw: Any) -> Dossier:
    kw.setdefault("locale", "zh_CN")
    return gather_dossier(
        conn,
        _actor(conn, username),
        borrower,
        reference=kw.pop("reference", "VD-TEST-1"),
        prepared_on=AS_OF + timedelta(days=1),
        today=AS_OF,
        now=NOW,
        products={},
        prepared_for=("催收一组", "field1", "field2"),
        **kw,
    )


def _pdf_text(pdf: Path) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode("utf-8")


@pytest.fixture
def account(desk_engine: Engine) -> dict[str, Any]:
    """A field1 account with a contact (reason recorded) and a promise made today."""
    with desk_engine.begin() as conn:
        borrower = _field_account(conn)
        field = _actor(conn, "field1")
        log_contact(
            conn,
            field,
            borrower,
            ContactInput(
                outcome=ContactOutcome.PROMISE_TO_PAY,
                channel=Channel.PHONE,
                right_party=True,
                reason=DelinquencyReason.ILLNESS,
            ),
            NOW,
        )
        record_promise(
            conn,
            field,
            borrower,
            PromiseInput(items=((AS_OF + timedelta(days=5), Decimal("321.00")),)),
            NOW,
            AS_OF,
            {},
        )
        row = conn.execute(select(t.borrowers).where(t.borrowers.c.borrower_id == borrower)).one()
        loans = (
            conn.execute(select(t.loans.c.loan_id).where(t.loans.c.borrower_id == borrower))
            .scalars()
            .all()
        )
    return {"borrower_id": borrower, "name": row.name, "id_number": row.id_number, "loans": loans}


@needs_poppler
@pytest.mark.parametrize(
    ("username", "locale", "unmask"),
    [
        ("field1", "zh_CN", None),
        ("field1", "en", None),
        ("manager", "zh_CN", "上门走访准备"),
        ("manager", "en", "preparing the door visit"),
    ],
)
def test_dossier_pdf(
    desk_engine: Engine,
    account: dict[str, Any],
    tmp_path: Path,
    username: str,
    locale: str,
    unmask: str | None,
) -> None:
    borrower, name = account["borrower_id"], account["name"]
    assert name and not name.isascii(), "the demo borrowers have Chinese names"
    reference = f"VD-{username}-{locale}-{desk_engine.dialect.name}"
    with desk_engine.begin() as conn:
        dossier = _gather(
            conn, username, borrower, locale=locale, unmask_reason=unmask, reference=reference
        )
    assert dossier.borrower.masked is (unmask is None)
    pdf = dossier_pdf(dossier)
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "dossier.pdf"
    path.write_bytes(pdf)
    raw = _pdf_text(path)
    flat = "".join(raw.split())  # pdftotext wraps lines and spaces CJK text at will

    # The borrower: the Chinese name only when unmasked; else only its masked form.
    masked_name, masked_id = mask_name(name), mask_id_number(account["id_number"])
    if unmask:
        assert name in flat
        assert account["id_number"] in flat
    else:
        assert name not in flat
        assert account["id_number"] not in flat
        assert masked_name in flat and masked_id in flat
    for loan_id in account["loans"]:
        assert loan_id in flat
    assert reference in flat

    # Contact history, the reason for delinquency, the last promise.
    assert dossier.delinquency_reason == "illness"
    assert dossier.promises[0].total == Decimal("321.00")
    if locale == "zh_CN":
        for words in (
            "出示证件",
            "录音",
            "至少2名",
            "立即离开",
            "不得收取现金",
            "疾病",
            "承诺还款",
        ):
            assert words in flat, words
        assert "催收通知函（CN-R2）" in flat
        if username == "field1":  # a 12-month plan is beyond a field agent's limits
            assert "需审批" in flat and "可由催收主管" in flat
        assert "¥321.00" in flat
        assert "08:00–20:00" in flat
    else:
        text = " ".join(raw.split())
        for words in ("show your staff ID cards", "Record the whole visit", "Leave at once"):
            assert words in text, words
        assert "collection notice (CN-R2)" in text
        assert "Illness" in text and "CN¥321.00" in text

    fonts = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes " in line for line in cjk), fonts  # embedded (emb = yes)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = (
        ARTIFACTS
        / f"dossier_{locale}_{'unmasked' if unmask else 'masked'}_{desk_engine.dialect.name}"
    )
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(path), str(stem)],
        check=True,
        timeout=60,
    )
    assert stem.with_suffix(".png").stat().st_size > 10_000


def _audit(conn: Connection, borrower: str, actor: str) -> list[Any]:
    a = d.audit_log
    return conn.execute(
        select(a)
        .where(a.c.subject_id == borrower, a.c.actor == actor)
        .order_by(a.c.audit_id.desc())
    ).all()


def _detail(row: Any) -> dict[str, Any]:
    detail = row.detail
    return json.loads(detail) if isinstance(detail, str) else dict(detail)


def test_reading_the_borrower_is_audited_with_the_dossier_purpose(
    desk_engine: Engine, account: dict[str, Any]
) -> None:
    borrower = account["borrower_id"]
    with desk_engine.begin() as conn:
        _gather(conn, "field1", borrower)
        _gather(conn, "manager", borrower, unmask_reason="visit preparation")
    with desk_engine.connect() as conn:
        field = _audit(conn, borrower, "field1")[0]
        manager = _audit(conn, borrower, "manager")[0]
    assert field.action == "view_borrower"
    assert _detail(field) == {"purpose": DOSSIER_PURPOSE, "masked": True}
    assert manager.action == "unmask_pii" and manager.reason == "visit preparation"
    assert _detail(manager) == {"purpose": DOSSIER_PURPOSE, "masked": False}


def test_an_account_outside_the_scope_is_not_found(
    desk_engine: Engine, account: dict[str, Any]
) -> None:
    with desk_engine.begin() as conn, pytest.raises(NotFound):
        _gather(conn, "collector2", account["borrower_id"])  # another team's account


def test_plan_options_reconcile_with_what_is_owed(
    desk_engine: Engine, account: dict[str, Any]
) -> None:
    with desk_engine.begin() as conn:
        standard = _gather(conn, "field1", account["borrower_id"])
        known = _gather(
            conn,
            "field1",
            account["borrower_id"],
            income_expenditure=IncomeExpenditure(
                monthly_income=Decimal("9000"), household_size=2, rent=Decimal("2000")
            ),
            policy=AffordabilityPolicy(
                max_term_months=12, max_settlement_discount=Decimal("0.2"), deferral_months=2
            ),
        )
    open_loans = {lo.loan_id for lo in standard.loans if not lo.paid_off}
    assert {p.loan_id for p in standard.plans} == open_loans
    due = [p for p in standard.plans if p.due_now and p.due_now > 0]
    assert due, "a field account has something due"
    for plans in due:
        assert plans.basis == "standard_terms" and plans.problem is None
        offered = [o for o in plans.options if o.available]
        assert [o.months for o in offered] == [3, 6, 12]
        limit = ROLE_LIMITS[Role.FIELD_AGENT].max_term_months
        for o in offered:
            # the plan's instalments, the contract after it and the waiver are what is owed
            assert o.total_payable + o.after_plan + o.waived == plans.total_owed
            assert o.needs_approval is (o.months > limit)
            if o.needs_approval:
                assert [r.code for r in o.approval_reasons] == ["TERM_ABOVE_LIMIT"]
                assert "manager" in o.approvers
    for plans in known.plans:
        if plans.due_now and plans.due_now > 0:
            assert plans.basis == "income_expenditure"
            assert plans.disposable == Decimal("7000")
            assert [o.kind for o in plans.options] == [k.value for k in PlanKind]
            for o in plans.options:
                assert o.available or o.reasons  # a plan, or why none fits


def test_plan_options_that_cannot_be_computed_are_explained(
    desk_engine: Engine, account: dict[str, Any]
) -> None:
    from datetime import date

    with desk_engine.begin() as conn:
        dossier = _gather(conn, "field1", account["borrower_id"], plan_start=date(2000, 1, 1))
    assert dossier.plans
    for plans in dossier.plans:
        assert plans.options == () and plans.basis == "none"
        assert plans.problem and "start date" in plans.problem
    assert "无法计算还款方案" in dossier_html(dossier)


def test_prohibited_language_is_not_rendered(desk_engine: Engine, account: dict[str, Any]) -> None:
    with desk_engine.begin() as conn:
        dossier = _gather(conn, "field1", account["borrower_id"])
    bad = replace(dossier, borrower=replace(dossier.borrower, employer="不还钱就爆通讯录"))
    with pytest.raises(ValidationError, match="CN-X1"):
        dossier_pdf(bad)


def test_an_unknown_locale_is_refused(desk_engine: Engine, account: dict[str, Any]) -> None:
    with desk_engine.begin() as conn, pytest.raises(ValidationError, match="fr"):
        _gather(conn, "field1", account["borrower_id"], locale="fr")


def test_the_rules_follow_the_lenders_pack() -> None:
    from datetime import time

    from arrears.domain.compliance.model import ClockWindow
    from arrears.domain.compliance.packs import cn_pack
    from arrears.services.dossiers import conduct_rules, documents_to_bring

    pack = cn_pack().with_parameters(
        {"CN-T2": {"visit_hours": ClockWindow(time(9), time(18))}, "CN-V1": {"min_staff": 3}}
    )
    conduct = {r.code: r for r in conduct_rules(pack)}
    assert "09:00–18:00" in conduct["hours"].en and "09:00–18:00" in conduct["hours"].zh
    assert "At least 3 staff" in conduct["two_staff"].en and "至少 3 名" in conduct["two_staff"].zh
    assert {"identify", "record", "respect", "third_parties", "leave"} <= set(conduct)
    documents = {r.code: r for r in documents_to_bring(pack)}
    assert documents["collection_notice"].rule == "CN-R2"
    assert "3 名" in documents["staff_id"].zh
