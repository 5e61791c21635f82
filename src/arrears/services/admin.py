"""Administration use cases: users, teams and API tokens, each change written to the audit
log; and the audit log's reading side (filter choices, a complete export in batches).

Passwords and token secrets never reach an audit row. An administrator may not lock
themselves out: no deactivating their own account, no dropping their own admin role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from arrears.adapters.db import desk_tables as d
from arrears.domain.errors import Issue, NotFound, ValidationError
from arrears.domain.people import Actor, ApiScope, Role
from arrears.services import auth
from arrears.services.audit import AuditEntry, AuditQuery, record

__all__ = [
    "AUDIT_ACTIONS",
    "NewUser",
    "UserChange",
    "add_team",
    "add_user",
    "audit_actions",
    "change_user",
    "issue_token",
    "iter_audit",
    "reset_password",
    "team_sizes",
    "user_by_id",
    "withdraw_token",
]

# Actions written by the app so far; the filter also offers any other action in the log.
AUDIT_ACTIONS = (
    "log_in",
    "log_out",
    "view_borrower",
    "unmask_pii",
    "add_note",
    "log_contact",
    "assign",
    "export_audit",
    "create_user",
    "update_user",
    "reset_password",
    "create_team",
    "create_token",
    "revoke_token",
)
MAX_DISPLAY_NAME = 80
MAX_USERNAME = 64
MAX_TOKEN_NAME = 64


def _invalid(entity: str, field: str, reason: str) -> ValidationError:
    return ValidationError([Issue(entity, None, field, reason)])


# --- users ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    display_name: str
    role: Role
    team_id: int | None
    password: str


@dataclass(frozen=True, slots=True)
class UserChange:
    role: Role
    team_id: int | None
    active: bool


def user_by_id(conn: Connection, user_id: int) -> auth.UserRow:
    for user in auth.list_users(conn):
        if user.user_id == user_id:
            return user
    raise NotFound(f"no user {user_id}")


def _check_team(conn: Connection, team_id: int | None) -> None:
    if team_id is None:
        return
    found = conn.execute(select(d.teams.c.team_id).where(d.teams.c.team_id == team_id)).first()
    if found is None:
        raise _invalid("user", "team", "no such team")


def add_user(
    conn: Connection, actor: Actor, new: NewUser, now: datetime, client: str | None = None
) -> int:
    username = new.username.strip()
    if len(username) > MAX_USERNAME:
        raise _invalid("user", "username", "at most 64 characters")
    if len(new.display_name) > MAX_DISPLAY_NAME:
        raise _invalid("user", "display_name", "at most 80 characters")
    _check_team(conn, new.team_id)
    user_id = auth.create_user(
        conn,
        username,
        new.password,
        new.role,
        now,
        display_name=new.display_name.strip() or None,
        team_id=new.team_id,
    )
    record(
        conn,
        actor,
        "create_user",
        "user",
        username,
        now,
        detail={"user_id": user_id, "role": new.role.value, "team_id": new.team_id},
        client=client,
    )
    return user_id


def change_user(
    conn: Connection,
    actor: Actor,
    user_id: int,
    change: UserChange,
    now: datetime,
    client: str | None = None,
) -> None:
    """Role, team and active flag; deactivating ends the user's sessions."""
    before = user_by_id(conn, user_id)
    if actor.user_id == user_id and not change.active:
        raise _invalid("user", "active", "you cannot deactivate your own account")
    if actor.user_id == user_id and change.role is not Role.ADMIN:
        raise _invalid("user", "role", "you cannot remove your own administrator role")
    _check_team(conn, change.team_id)
    auth.update_user(conn, user_id, change.role, change.team_id, change.active)
    old = {"role": before.role.value, "team_id": before.team_id, "active": before.active}
    new = {"role": change.role.value, "team_id": change.team_id, "active": change.active}
    changed = {k: {"from": old[k], "to": new[k]} for k in old if old[k] != new[k]}
    record(conn, actor, "update_user", "user", before.username, now, detail=changed, client=client)


def reset_password(
    conn: Connection,
    actor: Actor,
    user_id: int,
    password: str,
    now: datetime,
    client: str | None = None,
) -> None:
    """A new password; the user's sessions end. The password is not audited."""
    user = user_by_id(conn, user_id)
    auth.set_password(conn, user_id, password)
    record(conn, actor, "reset_password", "user", user.username, now, client=client)


# --- teams -----------------------------------------------------------------------------


def add_team(
    conn: Connection, actor: Actor, name: str, now: datetime, client: str | None = None
) -> int:
    name = name.strip()
    if len(name) > 64:
        raise _invalid("team", "name", "at most 64 characters")
    team_id = auth.create_team(conn, name, now)
    record(
        conn,
        actor,
        "create_team",
        "team",
        str(team_id),
        now,
        detail={"name": name},
        client=client,
    )
    return team_id


def team_sizes(conn: Connection) -> dict[int, int]:
    """Active members per team."""
    u = d.users
    rows = conn.execute(
        select(u.c.team_id, func.count())
        .where(u.c.team_id.is_not(None), u.c.active.is_(True))
        .group_by(u.c.team_id)
    )
    return {int(r[0]): int(r[1]) for r in rows}


# --- API tokens ------------------------------------------------------------------------


def issue_token(
    conn: Connection,
    actor: Actor,
    name: str,
    scopes: set[ApiScope],
    now: datetime,
    client: str | None = None,
) -> tuple[int, str]:
    """(token id, secret): the secret is shown once and neither stored nor audited."""
    name = name.strip()
    if not name:
        raise _invalid("token", "name", "give the token a name")
    if len(name) > MAX_TOKEN_NAME:
        raise _invalid("token", "name", "at most 64 characters")
    secret = auth.create_token(conn, name, scopes, actor.user_id, now)
    t = d.api_tokens
    token_id = int(
        conn.execute(
            select(t.c.token_id).where(t.c.token_hash == auth.hash_secret(secret))
        ).scalar_one()
    )
    record(
        conn,
        actor,
        "create_token",
        "token",
        str(token_id),
        now,
        detail={"name": name, "scopes": sorted(s.value for s in scopes)},
        client=client,
    )
    return token_id, secret


def withdraw_token(
    conn: Connection, actor: Actor, token_id: int, now: datetime, client: str | None = None
) -> bool:
    """Revoke a live token; False when it was revoked already (nothing is written)."""
    t = d.api_tokens
    row = conn.execute(select(t.c.name, t.c.revoked_at).where(t.c.token_id == token_id)).first()
    if row is None:
        raise NotFound(f"no API token {token_id}")
    if row.revoked_at is not None:
        return False
    auth.revoke_token(conn, token_id, now)
    record(
        conn,
        actor,
        "revoke_token",
        "token",
        str(token_id),
        now,
        detail={"name": row.name},
        client=client,
    )
    return True


# --- audit log, reading side -------------------------------------------------------------


def audit_actions(conn: Connection) -> list[str]:
    """The known actions, then any other action found in the log."""
    a = d.audit_log
    found = set(conn.execute(select(a.c.action).distinct()).scalars())
    return list(AUDIT_ACTIONS) + sorted(found - set(AUDIT_ACTIONS))


def _conditions(q: AuditQuery) -> list[Any]:
    # The same filters as services.audit.query_audit.
    a = d.audit_log
    conds: list[Any] = []
    if q.actor:
        conds.append(a.c.actor == q.actor)
    if q.action:
        conds.append(a.c.action == q.action)
    if q.subject_id:
        conds.append(a.c.subject_id == q.subject_id)
    if q.since:
        conds.append(a.c.at >= q.since)
    if q.until:
        conds.append(a.c.at < q.until)
    return conds


def iter_audit(conn: Connection, q: AuditQuery, batch: int = 1000) -> Iterator[AuditEntry]:
    """Every entry matching ``q``, newest first, read in keyset batches (bounded memory;
    rows written meanwhile are neither repeated nor skipped among the older ones)."""
    a = d.audit_log
    conds = _conditions(q)
    last: tuple[datetime, int] | None = None
    while True:
        page = list(conds)
        if last is not None:
            at, audit_id = last
            page.append(or_(a.c.at < at, and_(a.c.at == at, a.c.audit_id < audit_id)))
        rows = conn.execute(
            select(a).where(*page).order_by(a.c.at.desc(), a.c.audit_id.desc()).limit(batch)
        ).all()
        for r in rows:
            yield AuditEntry(**r._mapping)
        if len(rows) < batch:
            return
        last = (rows[-1].at, rows[-1].audit_id)
