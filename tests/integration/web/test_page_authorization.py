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
from arrears.domain.compliance import cn_pack
from arrears.domain.people import Actor, Role
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
    return {
        "borrower_id": account,
        "user_id": str(user_id),
        "token_id": str(token_id or 1),
        "decision_id": str(answer.decision_id),
    }


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
