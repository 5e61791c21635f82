"""Every page route, as every demo user: who may open it, who gets 403, who gets 404.

An account outside a user's scope answers 404 (as if it did not exist); a page the role may
not open answers 403. A route added without a rule here fails the first test.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine, func, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import plan_tables
from arrears.domain.compliance import cn_pack
from arrears.domain.negotiation import PlanKind
from arrears.domain.people import Actor, Role
from arrears.services import plans
from arrears.services.contact_gate import check_call
from fixtures.web import ROLES_USERS, FixedClock, csrf_of, logged_in

ANYONE = "anyone"
OWNER_TEAM = {"collector1", "field1"}  # collector1's team (催收一组)
READ_ALL = {"manager", "compliance"}
RULES: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/"): ANYONE,
    ("GET", "/healthz"): ANYONE,
    ("GET", "/login"): ANYONE,
    ("POST", "/login"): ANYONE,
    ("POST", "/logout"): ANYONE,
    ("POST", "/language"): ANYONE,
    ("GET", "/queue"): {"collector1", "collector2", "field1"},
    ("GET", "/accounts/{borrower_id}"): OWNER_TEAM | READ_ALL,
    ("POST", "/accounts/{borrower_id}/unmask"): OWNER_TEAM | READ_ALL,
    ("POST", "/accounts/{borrower_id}/notes"): OWNER_TEAM | {"manager"},
    ("POST", "/accounts/{borrower_id}/contacts"): OWNER_TEAM | {"manager"},
    ("POST", "/accounts/{borrower_id}/promises"): OWNER_TEAM | {"manager"},
    ("POST", "/accounts/{borrower_id}/call-check"): OWNER_TEAM | {"manager"},
    ("GET", "/accounts/{borrower_id}/plans/calculator"): OWNER_TEAM | {"manager"},
    ("POST", "/accounts/{borrower_id}/plans/calculator"): OWNER_TEAM | {"manager"},
    ("POST", "/accounts/{borrower_id}/plans"): OWNER_TEAM | {"manager"},
    ("GET", "/accounts/{borrower_id}/plans/{plan_id}"): OWNER_TEAM | READ_ALL,
    ("POST", "/accounts/{borrower_id}/plans/{plan_id}/decision"): {"manager"},
    ("POST", "/accounts/{borrower_id}/plans/{plan_id}/acceptance"): OWNER_TEAM | {"manager"},
    ("POST", "/accounts/{borrower_id}/plans/{plan_id}/cancel"): OWNER_TEAM | {"manager"},
    ("GET", "/accounts/{borrower_id}/plans/{plan_id}/agreement.pdf"): OWNER_TEAM | READ_ALL,
    ("GET", "/plans/approvals"): {"manager"},
    ("GET", "/portfolio"): {"manager"},
    ("GET", "/assignments"): {"manager"},
    ("POST", "/assignments/rule"): {"manager"},
    ("POST", "/assignments/manual"): {"manager"},
    ("GET", "/strategy"): {"manager"},
    ("GET", "/strategy/experiment"): {"manager"},
    ("POST", "/strategy"): {"manager"},
    ("POST", "/strategy/preview"): {"manager"},
    ("GET", "/templates"): {"manager", "compliance"},
    ("GET", "/templates/edit"): {"manager", "compliance"},
    ("POST", "/templates/preview"): {"manager", "compliance"},
    ("POST", "/templates"): {"manager"},
    ("GET", "/audit"): {"compliance", "admin"},
    ("GET", "/compliance"): {"compliance"},
    ("GET", "/compliance/decisions/{decision_id}"): {"compliance"},
    ("GET", "/audit.csv"): {"compliance", "admin"},
    ("GET", "/admin/users"): {"admin"},
    ("POST", "/admin/users"): {"admin"},
    ("GET", "/admin/users/{user_id}"): {"admin"},
    ("POST", "/admin/users/{user_id}"): {"admin"},
    ("POST", "/admin/users/{user_id}/password"): {"admin"},
    ("GET", "/admin/teams"): {"admin"},
    ("POST", "/admin/teams"): {"admin"},
    ("GET", "/admin/tokens"): {"admin"},
    ("POST", "/admin/tokens"): {"admin"},
    ("POST", "/admin/tokens/{token_id}/revoke"): {"admin"},
    # Door visits, planning (services.visits): managers plan; collectors request by hand.
    ("POST", "/accounts/{borrower_id}/visits"): {"collector1", "manager"},
    ("GET", "/visits"): {"manager"},
    ("POST", "/visits/pin"): {"manager"},
    ("GET", "/visits/teams"): {"manager"},
    ("POST", "/visits/teams"): {"manager"},
    ("GET", "/visits/plan"): {"manager"},
    ("POST", "/visits/plan"): {"manager"},
    ("POST", "/visits/lock"): {"manager"},
    ("GET", "/visits/route"): {"field1"},
    # Door visits, the visit (services.visit_record): the team makes it, managers read it.
    ("GET", "/visits/mobile"): {"field1"},
    ("GET", "/visits/{visit_id}/mobile"): {"field1", "manager"},
    ("POST", "/visits/{visit_id}/start"): {"field1"},
    ("POST", "/visits/{visit_id}/record"): {"field1"},
    ("POST", "/visits/{visit_id}/end"): {"field1"},
    ("POST", "/visits/{visit_id}/evidence"): {"field1"},
    ("GET", "/visits/{visit_id}/evidence/{evidence_id}"): {"field1", "manager"},
    ("GET", "/visits/{visit_id}/dossier"): {"field1", "manager"},
    ("GET", "/visits/report"): {"manager"},
    ("GET", "/visits/report.csv"): {"manager"},
}
# Account routes: readers without the write permission get 403, users outside the scope 404.
ACCOUNT_READERS = OWNER_TEAM | READ_ALL


def _page_routes(app: Any) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        if isinstance(route, APIRoute) and not route.path.startswith("/api/"):
            out.extend((m, route.path) for m in sorted(route.methods) if m != "HEAD")
    return out


def test_every_page_route_has_a_rule(desk_app: Any) -> None:
    missing = [r for r in _page_routes(desk_app) if r not in RULES]
    assert missing == [], f"add these routes to RULES: {missing}"


@pytest.fixture(scope="module")
def clients(desk_app: Any) -> dict[str, Any]:
    return {u: logged_in(desk_app, u) for u in ROLES_USERS}


def _ids(engine: Engine) -> dict[str, str]:
    a, u = d.account_assignments, d.users
    with engine.connect() as conn:
        account = conn.execute(
            select(func.min(a.c.borrower_id))
            .join(u, u.c.user_id == a.c.user_id)
            .where(u.c.username == "collector1")
        ).scalar_one()
        user_id = conn.execute(select(u.c.user_id).where(u.c.username == "collector2")).scalar_one()
        token_id = conn.execute(select(func.max(d.api_tokens.c.token_id))).scalar()
    with engine.begin() as conn:  # a decision of the gate for the compliance pages to show
        collector = conn.execute(select(u).where(u.c.username == "collector1")).one()
        person = Actor(
            collector.username, Role(collector.role), collector.user_id, collector.team_id
        )
        answer = check_call(conn, person, account, FixedClock().now(), cn_pack(), "Asia/Shanghai")
        plan_id = _a_plan(conn, person, account)
        visit_id, evidence_id = _a_visit(conn, account)
    return {
        "borrower_id": account,
        "user_id": str(user_id),
        "token_id": str(token_id or 1),
        "decision_id": str(answer.decision_id),
        "plan_id": str(plan_id),
        "visit_id": str(visit_id),
        "evidence_id": str(evidence_id),
    }


def _a_visit(conn: Any, account: str) -> tuple[int, int]:
    """A visit planned for field1's field team (made if none) a year ahead, with an
    evidence row (no file: the test app has no evidence directory), for the visit pages."""
    from datetime import time, timedelta
    from decimal import Decimal

    from sqlalchemy import insert

    from arrears.adapters.db import visit_record_tables as vrt
    from arrears.adapters.db import visit_tables as vt
    from fixtures.web import AS_OF

    now = FixedClock().now()
    field1 = conn.execute(select(d.users.c.user_id).where(d.users.c.username == "field1"))
    field1_id = field1.scalar_one()
    m = vt.field_team_members.c
    team = conn.execute(select(func.min(m.team_id)).where(m.user_id == field1_id)).scalar()
    if team is None:
        team = "T-AUTH"
        conn.execute(
            insert(vt.field_teams).values(
                team_id=team, name=team, home_label="branch", home_latitude=Decimal("31.23"),
                home_longitude=Decimal("121.47"), shift_start=time(9), shift_end=time(18),
                capacity=8, territory="", active=True, created_at=now,
            )
        )  # fmt: skip
        conn.execute(insert(vt.field_team_members).values(team_id=team, user_id=field1_id))
    day = AS_OF + timedelta(days=365)
    visit_id = conn.execute(
        insert(vt.visit_requests).values(
            borrower_id=account, source="manual", reason="authorization probe",
            requested_by="manager", requested_at=now, priority_minor=0, duration_min=45,
            status="planned", planned_day=day, team_id=team, seq=1, created_at=now,
            planned_start=now + timedelta(days=365), planned_end=now + timedelta(days=365),
        )
    ).inserted_primary_key[0]  # fmt: skip
    evidence_id = conn.execute(
        insert(vrt.visit_evidence).values(
            visit_id=visit_id, kind="photo", filename="probe.jpg", mime="image/jpeg",
            size_bytes=1, sha256="0" * 64, stored_path=f"{visit_id}/{'0' * 64}",
            retention_until=day, uploaded_by="field1", uploaded_at=now,
        )
    ).inserted_primary_key[0]  # fmt: skip
    return int(visit_id), int(evidence_id)


def _a_plan(conn: Any, person: Actor, account: str) -> int:
    """A plan of the account for the plan pages (an approved full settlement of one loan;
    the account's existing one when a previous run made it)."""
    p = plan_tables.plans.c
    found = conn.execute(select(func.min(p.plan_id)).where(p.borrower_id == account)).scalar()
    if found is not None:
        return int(found)
    today = FixedClock().today()
    options = plans.plan_options(conn, person, account, None, today, {})
    request = plans.PlanRequest(
        kind=PlanKind.SETTLEMENT, settlement_amount=options.snapshot.total_owed
    )
    return plans.propose_plan(
        conn, person, account, options.snapshot.loan_id, request, today, FixedClock().now(), {}
    )


def _expected(method: str, path: str, user: str) -> str:
    rule = RULES[(method, path)]
    if rule == ANYONE:
        return "any"
    assert isinstance(rule, set)
    if user in rule:
        return "allowed"
    if path.startswith("/accounts/") and user == "collector2":
        return "404"  # a collector of another team: the account does not exist for them
    return "403"


def _audit_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(d.audit_log)).scalar_one())


def test_pages_as_every_role(desk_app: Any, desk_engine: Engine, clients: dict[str, Any]) -> None:
    ids = _ids(desk_engine)
    failures = []
    for method, template in _page_routes(desk_app):
        if RULES[(method, template)] == ANYONE:
            continue
        path = template.format(**ids)
        for user in ROLES_USERS:
            client = clients[user]
            expected = _expected(method, template, user)
            if method == "GET":
                got = client.get(path, follow_redirects=False).status_code
            else:
                if expected == "allowed":
                    continue  # the owning tests post real forms
                csrf = csrf_of(client.get("/", follow_redirects=True).text)
                before = _audit_rows(desk_engine)
                got = client.post(
                    path,
                    data={"csrf_token": csrf, "body": "x", "reason": "probe"},
                    follow_redirects=False,
                ).status_code
                if _audit_rows(desk_engine) != before:
                    failures.append(f"{method} {path} as {user}: refused but wrote an audit row")
            ok = (
                got not in (403, 404) and got < 500
                if expected == "allowed"
                else got == int(expected)
            )
            if not ok:
                failures.append(f"{method} {path} as {user}: {got}, expected {expected}")
    assert failures == []
