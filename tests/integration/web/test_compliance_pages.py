"""The gate on the desk: a collector checks before calling, every decision is kept, compliance
officers see blocked attempts by rule and the "why"; notes are screened (SQLite, PostgreSQL).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from arrears.adapters.db import compliance_tables as ct
from arrears.adapters.db import desk_tables as d
from arrears.services.compliance_explain import explain
from arrears.web.app import create_app
from arrears.web.context import WebContext
from fixtures.web import DEMO_PASSWORD, FixedClock, build_desk_store, csrf_of


class At(FixedClock):
    def __init__(self, when: datetime) -> None:
        self.when = when

    def now(self) -> datetime:
        return self.when


# 18:00 in Shanghai on 2026-11-28 (FixedClock's 10:00 UTC): inside CN calling hours.
EVENING = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 28, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai


@pytest.fixture
def desk(store: Engine, tmp_path: Path) -> Engine:
    return build_desk_store(store.url.render_as_string(hide_password=False), tmp_path)


def _client(engine: Engine, username: str, when: datetime = EVENING) -> TestClient:
    app = create_app(
        WebContext(
            engine=engine,
            clock=At(when),
            default_locale="en",
            lender_timezone="Asia/Shanghai",
            cookie_secure=True,
        )
    )
    client = TestClient(app, base_url="https://testserver")
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": DEMO_PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def _account_of(engine: Engine, username: str) -> str:
    a, u = d.account_assignments, d.users
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(func.min(a.c.borrower_id))
                .join(u, u.c.user_id == a.c.user_id)
                .where(u.c.username == username)
            ).scalar_one()
        )


def _check(client: TestClient, borrower: str) -> str:
    page = client.get(f"/accounts/{borrower}")
    r = client.post(f"/accounts/{borrower}/call-check", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200, r.text
    return r.text


def _decisions(engine: Engine) -> list[dict[str, object]]:
    g = ct.gate_decisions
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(g).order_by(g.c.decision_id))]


def _log_answered_calls(engine: Engine, borrower: str, n: int, day: datetime) -> None:
    with engine.begin() as conn:
        for k in range(n):
            conn.execute(
                insert(d.contact_attempts).values(
                    borrower_id=borrower,
                    channel="phone",
                    answered=True,
                    right_party=True,
                    outcome="callback",
                    recorded_by="collector1",
                    at=day + timedelta(hours=k),
                    created_at=day + timedelta(hours=k),
                )
            )


def test_a_call_in_hours_is_allowed_recorded_and_replayable(desk: Engine) -> None:
    borrower = _account_of(desk, "collector1")
    page = _check(_client(desk, "collector1"), borrower)
    assert 'id="gate-answer" data-allowed="yes"' in page
    assert "Record the call" in page  # the duty of CN-R1, in the user's language
    [row] = _decisions(desk)
    assert row["allowed"] is True
    assert (row["pack"], row["pack_version"], row["channel"]) == ("CN", "1", "call")
    assert row["actor"] == "collector1"
    assert row["borrower_id"] == borrower
    assert row["rules"] == ["CN-R1"]
    # The stored attempt replays through `arrears compliance explain` to the same answer.
    attempt = row["attempt"]
    assert isinstance(attempt, dict)
    replay = explain_json(attempt)
    assert replay["allowed"] is True
    assert replay["rules"] == ["CN-R1"]


def explain_json(attempt: dict[str, object]) -> dict[str, object]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "attempt.json"
        path.write_text(json.dumps(attempt), encoding="utf-8")
        result: dict[str, object] = explain(path, None)
        return result


def test_quiet_hours_and_the_daily_cap_block_with_reasons(desk: Engine) -> None:
    borrower = _account_of(desk, "collector1")
    night = _check(_client(desk, "collector1", NIGHT), borrower)
    assert 'data-allowed="no"' in night
    assert "quiet hours" in night
    # Three answered calls today (Shanghai): the fourth is over CN-F2's cap.
    _log_answered_calls(desk, borrower, 3, datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    capped = _check(_client(desk, "collector1"), borrower)
    assert 'data-allowed="no"' in capped
    rows = _decisions(desk)
    assert [r["blocked_by"] for r in rows] == [["CN-T1"], ["CN-F2"]]
    # Next allowed: 08:00 on the next Shanghai day (midnight resets the count; quiet hours).
    assert rows[1]["next_allowed_at"] == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)
    officer = _client(desk, "compliance")
    listing = officer.get("/compliance?result=blocked")
    assert listing.status_code == 200
    assert 'data-rule="CN-F2"' in listing.text
    assert 'data-rule="CN-T1"' in listing.text
    assert 'data-total="2"' in listing.text
    only_f2 = officer.get("/compliance?rule=CN-F2")
    assert 'data-total="1"' in only_f2.text
    why = officer.get(f"/compliance/decisions/{rows[1]['decision_id']}")
    assert why.status_code == 200
    assert 'id="decision-blocked-by">CN-F2' in why.text
    assert "3" in why.text and "每日上限" in why.text  # both languages are shown
    assert officer.get("/compliance/decisions/999999").status_code == 404


def test_a_cease_request_blocks_every_call(desk: Engine) -> None:
    borrower = _account_of(desk, "collector1")
    with desk.begin() as conn:
        conn.execute(
            insert(ct.account_events).values(
                borrower_id=borrower,
                kind="cease",
                at=datetime(2026, 11, 20, tzinfo=UTC),
                recorded_by="compliance",
                created_at=datetime(2026, 11, 20, tzinfo=UTC),
            )
        )
    page = _check(_client(desk, "collector1"), borrower)
    assert 'data-allowed="no"' in page
    [row] = _decisions(desk)
    assert row["blocked_by"] == ["CN-H2"]
    assert row["next_allowed_at"] is None


def test_another_team_cannot_ask_about_an_account(desk: Engine) -> None:
    borrower = _account_of(desk, "collector1")
    client = _client(desk, "collector2")
    csrf = csrf_of(client.get("/queue").text)
    r = client.post(f"/accounts/{borrower}/call-check", data={"csrf_token": csrf})
    assert r.status_code == 404
    assert _decisions(desk) == []


def test_a_threatening_note_is_kept_and_flagged(desk: Engine) -> None:
    borrower = _account_of(desk, "collector1")
    client = _client(desk, "collector1")
    page = client.get(f"/accounts/{borrower}")
    r = client.post(
        f"/accounts/{borrower}/notes",
        data={"csrf_token": csrf_of(page.text), "body": "再不还钱就弄死你"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with desk.connect() as conn:
        flagged = conn.execute(
            select(d.notes.c.flagged).where(d.notes.c.body == "再不还钱就弄死你")
        ).scalar_one()
        audit = conn.execute(
            select(d.audit_log.c.detail)
            .where(d.audit_log.c.action == "add_note")
            .order_by(d.audit_log.c.audit_id.desc())
        ).first()
    assert flagged == "threat"
    assert audit is not None and audit[0]["flagged"] == "threat"
    assert "Flagged to compliance" in client.get(f"/accounts/{borrower}").text
    listing = _client(desk, "compliance").get("/compliance")
    assert "再不还钱就弄死你" in listing.text
    plain = client.post(
        f"/accounts/{borrower}/notes",
        data={"csrf_token": csrf_of(page.text), "body": "Will pay on Friday"},
        follow_redirects=False,
    )
    assert plain.status_code == 303
    with desk.connect() as conn:
        assert (
            conn.execute(
                select(d.notes.c.flagged).where(d.notes.c.body == "Will pay on Friday")
            ).scalar_one()
            is None
        )


def test_decisions_are_append_only_on_postgresql(desk: Engine) -> None:
    if desk.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's")
    _check(_client(desk, "collector1"), _account_of(desk, "collector1"))
    for statement in ("UPDATE gate_decisions SET allowed = false", "DELETE FROM gate_decisions"):
        with pytest.raises(DBAPIError, match="append-only"), desk.begin() as conn:
            conn.execute(text(statement))
    assert len(_decisions(desk)) == 1
