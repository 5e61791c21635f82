"""The administration pages (users, teams, API tokens) over HTTP, on SQLite and PostgreSQL.

The store is shared by the session's tests: every test makes its own uniquely named users,
teams and tokens.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from arrears.adapters.db import desk_tables as d
from fixtures.web import csrf_of, logged_in

PASSWORD = "first-pass-456"


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _user(engine: Engine, username: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(d.users).where(d.users.c.username == username)).first()


def _audit(engine: Engine, action: str, subject_id: str) -> list[Any]:
    a = d.audit_log
    with engine.connect() as conn:
        return list(
            conn.execute(select(a).where(a.c.action == action, a.c.subject_id == subject_id)).all()
        )


def _create_user(
    admin: TestClient, username: str, role: str = "collector", password: str = PASSWORD, **more: str
) -> Any:
    csrf = csrf_of(admin.get("/admin/users").text)
    return admin.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "username": username,
            "display_name": more.get("display_name", "测试 用户"),
            "role": role,
            "team_id": more.get("team_id", ""),
            "password": password,
        },
        follow_redirects=False,
    )


def test_admin_creates_a_user_who_can_log_in(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    name = _unique("newcollector")
    r = _create_user(admin, name)
    assert r.status_code == 303
    listing = admin.get(r.headers["location"])
    assert f'data-username="{name}" data-active="yes" data-role="collector"' in listing.text
    assert 'id="user-created"' in listing.text
    user = _user(desk_engine, name)
    assert user is not None and user.role == "collector" and user.display_name == "测试 用户"
    rows = _audit(desk_engine, "create_user", name)
    assert [(r.actor, r.detail["role"]) for r in rows] == [("admin", "collector")]
    assert PASSWORD not in str(rows[0].detail)
    assert logged_in(desk_app, name, PASSWORD).get("/queue").status_code == 200


def test_user_with_a_team(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    team = _unique("团队")
    csrf = csrf_of(admin.get("/admin/teams").text)
    r = admin.post("/admin/teams", data={"csrf_token": csrf, "name": team}, follow_redirects=False)
    assert r.status_code == 303
    page = admin.get("/admin/teams")
    assert f'data-team="{team}"' in page.text
    with desk_engine.connect() as conn:
        team_id = conn.execute(select(d.teams.c.team_id).where(d.teams.c.name == team)).scalar()
    assert team_id is not None
    assert [r.detail["name"] for r in _audit(desk_engine, "create_team", str(team_id))] == [team]
    name = _unique("teamed")
    assert _create_user(admin, name, team_id=str(team_id)).status_code == 303
    assert _user(desk_engine, name).team_id == team_id
    assert re.search(
        rf'data-team="{team}"><td>[^<]*</td><td class="num">1<', admin.get("/admin/teams").text
    )


def test_team_errors_change_nothing(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    csrf = csrf_of(admin.get("/admin/teams").text)
    with desk_engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(d.teams)).scalar_one()
        taken = conn.execute(select(d.teams.c.name).limit(1)).scalar()
    r = admin.post("/admin/teams", data={"csrf_token": csrf, "name": "   "})
    assert r.status_code == 422 and 'data-field="name"' in r.text
    if taken:
        r = admin.post("/admin/teams", data={"csrf_token": csrf, "name": taken})
        assert r.status_code == 409 and 'data-field="name"' in r.text
    with desk_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(d.teams)).scalar_one() == before


def test_bad_user_input_is_shown_and_nothing_is_created(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    with desk_engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(d.users)).scalar_one()
    name = _unique("shortpw")
    r = _create_user(admin, name, password="short")
    assert r.status_code == 422
    assert 'data-field="password"' in r.text and 'id="new-user-form"' in r.text
    assert f'value="{name}"' in r.text  # the form keeps what was typed
    assert _user(desk_engine, name) is None
    r = _create_user(admin, "collector1")
    assert r.status_code == 409 and 'data-field="username"' in r.text
    r = _create_user(admin, _unique("badrole"), role="overlord")
    assert r.status_code == 422 and 'data-field="role"' in r.text
    r = _create_user(admin, "has space " + uuid.uuid4().hex[:4])
    assert r.status_code == 422 and 'data-field="username"' in r.text
    r = _create_user(admin, _unique("noteam"), team_id="999999")
    assert r.status_code == 422 and 'data-field="team"' in r.text
    with desk_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(d.users)).scalar_one() == before
        assert (
            conn.execute(
                select(func.count())
                .select_from(d.audit_log)
                .where(d.audit_log.c.action == "create_user", d.audit_log.c.subject_id == name)
            ).scalar_one()
            == 0
        )


def test_deactivated_users_session_stops_working(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    name = _unique("leaver")
    assert _create_user(admin, name).status_code == 303
    user_id = _user(desk_engine, name).user_id
    theirs = logged_in(desk_app, name, PASSWORD)
    assert theirs.get("/queue").status_code == 200
    page = admin.get(f"/admin/users/{user_id}")
    assert page.status_code == 200 and 'id="edit-user-form"' in page.text
    r = admin.post(
        f"/admin/users/{user_id}",
        data={"csrf_token": csrf_of(page.text), "role": "collector", "team_id": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _user(desk_engine, name).active is False
    gone = theirs.get("/queue", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    rows = _audit(desk_engine, "update_user", name)
    assert [r.detail for r in rows] == [{"active": {"from": True, "to": False}}]
    again = TestClient(desk_app, base_url="https://testserver")
    login = again.get("/login")
    r = again.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": csrf_of(login.text)},
        follow_redirects=False,
    )
    assert r.status_code == 401


def test_role_and_team_change(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    name = _unique("promoted")
    assert _create_user(admin, name).status_code == 303
    user_id = _user(desk_engine, name).user_id
    csrf = csrf_of(admin.get(f"/admin/users/{user_id}").text)
    r = admin.post(
        f"/admin/users/{user_id}",
        data={"csrf_token": csrf, "role": "manager", "active": "on"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert 'id="user-saved"' in admin.get(r.headers["location"]).text
    row = _user(desk_engine, name)
    assert row.role == "manager" and row.active is True
    assert logged_in(desk_app, name, PASSWORD).get("/portfolio").status_code != 403


def test_admin_cannot_lock_themselves_out(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    me = _user(desk_engine, "admin")
    page = admin.get(f"/admin/users/{me.user_id}")
    assert 'id="self-note"' in page.text
    csrf = csrf_of(page.text)
    r = admin.post(f"/admin/users/{me.user_id}", data={"csrf_token": csrf, "role": "admin"})
    assert r.status_code == 422 and 'data-field="active"' in r.text
    r = admin.post(
        f"/admin/users/{me.user_id}", data={"csrf_token": csrf, "role": "manager", "active": "on"}
    )
    assert r.status_code == 422 and 'data-field="role"' in r.text
    after = _user(desk_engine, "admin")
    assert (after.role, after.active) == ("admin", True)
    assert admin.get("/admin/users").status_code == 200  # still signed in


def test_reset_password_ends_sessions(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    name = _unique("forgetful")
    assert _create_user(admin, name).status_code == 303
    user_id = _user(desk_engine, name).user_id
    theirs = logged_in(desk_app, name, PASSWORD)
    csrf = csrf_of(admin.get(f"/admin/users/{user_id}").text)
    url = f"/admin/users/{user_id}/password"
    r = admin.post(url, data={"csrf_token": csrf, "password": "abc", "password_again": "abc"})
    assert r.status_code == 422 and 'data-field="password"' in r.text
    r = admin.post(
        url, data={"csrf_token": csrf, "password": "new-pass-789", "password_again": "other-789"}
    )
    assert r.status_code == 422
    assert theirs.get("/queue").status_code == 200  # nothing changed yet
    r = admin.post(
        url,
        data={"csrf_token": csrf, "password": "new-pass-789", "password_again": "new-pass-789"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert theirs.get("/queue", follow_redirects=False).status_code == 303
    assert logged_in(desk_app, name, "new-pass-789").get("/queue").status_code == 200
    rows = _audit(desk_engine, "reset_password", name)
    assert len(rows) == 1 and "new-pass-789" not in str(rows[0].detail)


def test_token_is_created_listed_and_revoked(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    name = _unique("core banking")
    csrf = csrf_of(admin.get("/admin/tokens").text)
    r = admin.post(
        "/admin/tokens",
        data={"csrf_token": csrf, "name": name, "scope": ["accounts:read", "payments:write"]},
    )
    assert r.status_code == 201
    found = re.search(r'id="new-token-secret" data-token-id="(\d+)">([^<]+)<', r.text)
    assert found and found.group(2).startswith("arr_")
    token_id, secret = found.group(1), found.group(2)
    assert 'id="new-token-warning"' in r.text
    api = TestClient(desk_app, base_url="https://testserver")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/accounts", headers=bearer).status_code == 200
    listing = admin.get("/admin/tokens").text
    assert f'data-token-id="{token_id}" data-token-name="{name}" data-revoked="no"' in listing
    assert secret not in listing
    row = re.search(rf'data-token-id="{token_id}".*?</tr>', listing, flags=re.S)
    assert row and 'data-scope="accounts:read"' in row.group(0)
    assert 'data-scope="payments:write"' in row.group(0)
    r = admin.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    listing = admin.get(r.headers["location"]).text
    assert f'data-token-id="{token_id}" data-token-name="{name}" data-revoked="yes"' in listing
    assert api.get("/api/v1/accounts", headers=bearer).status_code == 401
    created = _audit(desk_engine, "create_token", token_id)
    revoked = _audit(desk_engine, "revoke_token", token_id)
    assert [r.detail["scopes"] for r in created] == [["accounts:read", "payments:write"]]
    assert len(revoked) == 1
    assert secret not in str([r.detail for r in created + revoked])
    # revoking again changes nothing and writes nothing
    admin.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert len(_audit(desk_engine, "revoke_token", token_id)) == 1
    assert admin.post("/admin/tokens/999999/revoke", data={"csrf_token": csrf}).status_code == 404


def test_token_needs_a_name_and_a_scope(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    csrf = csrf_of(admin.get("/admin/tokens").text)
    with desk_engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(d.api_tokens)).scalar_one()
    r = admin.post("/admin/tokens", data={"csrf_token": csrf, "name": _unique("noscope")})
    assert r.status_code == 422 and 'data-field="scopes"' in r.text
    r = admin.post("/admin/tokens", data={"csrf_token": csrf, "name": "", "scope": "book:import"})
    assert r.status_code == 422 and 'data-field="name"' in r.text
    assert 'value="book:import" checked' in r.text  # the form keeps the choice
    r = admin.post("/admin/tokens", data={"csrf_token": csrf, "name": "x", "scope": "root:all"})
    assert r.status_code == 422 and 'data-field="scopes"' in r.text
    assert "new-token-secret" not in r.text
    with desk_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(d.api_tokens)).scalar_one() == before


def test_admin_forms_need_the_csrf_token(desk_app: Any, desk_engine: Engine) -> None:
    admin = logged_in(desk_app, "admin")
    name = _unique("nocsrf")
    r = admin.post(
        "/admin/users", data={"username": name, "role": "collector", "password": PASSWORD}
    )
    assert r.status_code == 403
    assert _user(desk_engine, name) is None
    assert admin.post("/admin/teams", data={"name": name}).status_code == 403
    assert (
        admin.post("/admin/tokens", data={"name": name, "scope": "accounts:read"}).status_code
        == 403
    )


ADMIN_PAGES = ["/admin/users", "/admin/teams", "/admin/tokens", "/admin/users/1"]


@pytest.mark.parametrize("username", ["collector1", "manager", "compliance"])
def test_other_roles_may_not_administer(desk_app: Any, desk_engine: Engine, username: str) -> None:
    client = logged_in(desk_app, username)
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403, path
    csrf = csrf_of(client.get("/").text)
    name = _unique("sneaky")
    r = client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": name, "role": "admin", "password": PASSWORD},
    )
    assert r.status_code == 403
    assert _user(desk_engine, name) is None
    assert client.post("/admin/tokens", data={"csrf_token": csrf, "name": name}).status_code == 403
