"""People and systems proving who they are: users, passwords, sessions, API tokens.

Passwords are hashed with argon2. A session or API token is a random secret handed out once;
the store keeps only its SHA-256, so a copy of the database opens nothing. Failed logins are
counted per username and per client address; too many in the window locks further attempts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import reads
from arrears.domain.errors import AuthenticationError, Conflict, Issue, ValidationError
from arrears.domain.people import Actor, ApiScope, Role

__all__ = [
    "LOGIN_LOCK_AFTER",
    "LOGIN_LOCK_CLIENT_AFTER",
    "LOGIN_WINDOW",
    "SESSION_LIFETIME",
    "Session",
    "UserRow",
    "authenticate_token",
    "create_team",
    "create_token",
    "create_user",
    "end_session",
    "hash_secret",
    "list_teams",
    "list_tokens",
    "list_users",
    "log_in",
    "resolve_session",
    "revoke_token",
    "set_password",
    "set_user_locale",
    "update_user",
]

SESSION_LIFETIME = timedelta(hours=12)
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_LOCK_AFTER = 5  # failures per username in the window
LOGIN_LOCK_CLIENT_AFTER = 20  # failures per client address in the window (offices share one)
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: int
    username: str
    display_name: str
    role: Role
    team_id: int | None
    locale: str | None
    active: bool

    def actor(self) -> Actor:
        return Actor(self.username, self.role, self.user_id, self.team_id)


@dataclass(frozen=True, slots=True)
class Session:
    user: UserRow
    csrf_token: str
    token_hash: str


def _user(row: object) -> UserRow:
    m = row if isinstance(row, dict) else row._mapping  # type: ignore[attr-defined]
    return UserRow(
        m["user_id"],
        m["username"],
        m["display_name"],
        Role(m["role"]),
        m["team_id"],
        m["locale"],
        m["active"],
    )


_USER_COLS = (
    d.users.c.user_id,
    d.users.c.username,
    d.users.c.display_name,
    d.users.c.role,
    d.users.c.team_id,
    d.users.c.locale,
    d.users.c.active,
)


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise ValidationError([Issue("user", None, "password", "at least 8 characters")])


def create_user(
    conn: Connection,
    username: str,
    password: str,
    role: Role,
    now: datetime,
    display_name: str | None = None,
    team_id: int | None = None,
) -> int:
    if not username or not username.replace("_", "").replace("-", "").isalnum():
        raise ValidationError([Issue("user", None, "username", "letters, digits, - and _ only")])
    _check_password(password)
    taken = conn.execute(select(d.users.c.user_id).where(d.users.c.username == username)).first()
    if taken:
        raise Conflict(f"user {username!r} exists already")
    result = conn.execute(
        insert(d.users).values(
            username=username,
            display_name=display_name or username,
            password_hash=_hasher.hash(password),
            role=role.value,
            team_id=team_id,
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def set_password(conn: Connection, user_id: int, password: str) -> None:
    _check_password(password)
    conn.execute(
        update(d.users)
        .where(d.users.c.user_id == user_id)
        .values(password_hash=_hasher.hash(password))
    )
    conn.execute(
        update(d.web_sessions).where(d.web_sessions.c.user_id == user_id).values(revoked=True)
    )


def update_user(
    conn: Connection, user_id: int, role: Role, team_id: int | None, active: bool
) -> None:
    conn.execute(
        update(d.users)
        .where(d.users.c.user_id == user_id)
        .values(role=role.value, team_id=team_id, active=active)
    )
    if not active:
        conn.execute(
            update(d.web_sessions).where(d.web_sessions.c.user_id == user_id).values(revoked=True)
        )


def set_user_locale(conn: Connection, user_id: int, locale: str) -> None:
    conn.execute(update(d.users).where(d.users.c.user_id == user_id).values(locale=locale))


def list_users(conn: Connection) -> list[UserRow]:
    return [_user(r) for r in conn.execute(select(*_USER_COLS).order_by(d.users.c.username))]


def _locked(conn: Connection, username: str, client: str, now: datetime) -> bool:
    since = now - LOGIN_WINDOW
    f = d.login_failures
    by_user = conn.execute(
        select(func.count()).where(f.c.username == username, f.c.at >= since)
    ).scalar_one()
    by_client = conn.execute(
        select(func.count()).where(f.c.client == client, f.c.at >= since)
    ).scalar_one()
    return int(by_user) >= LOGIN_LOCK_AFTER or int(by_client) >= LOGIN_LOCK_CLIENT_AFTER


def log_in(
    engine: Engine, username: str, password: str, client: str, now: datetime
) -> tuple[str, Session]:
    """A new session for good credentials: (cookie token, session). Raises otherwise."""
    username = username.strip()[:64]
    client = client[:64]
    with engine.begin() as conn:
        if _locked(conn, username, client, now):
            raise AuthenticationError("too many failed log-ins; try again in 15 minutes")
        row = conn.execute(
            select(*_USER_COLS, d.users.c.password_hash).where(d.users.c.username == username)
        ).first()
        stored = row._mapping["password_hash"] if row else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
            ok = row is not None and bool(row._mapping["active"])
        except (VerificationError, InvalidHashError):
            ok = False
        if ok and row is not None:
            return _open_session(conn, row, username, now)
    with engine.begin() as conn:  # the failure is kept: its own transaction
        conn.execute(insert(d.login_failures).values(username=username, client=client, at=now))
    raise AuthenticationError("wrong username or password")


def _open_session(conn: Connection, row: Any, username: str, now: datetime) -> tuple[str, Session]:
    conn.execute(delete(d.login_failures).where(d.login_failures.c.username == username))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    conn.execute(
        insert(d.web_sessions).values(
            token_hash=hash_secret(token),
            user_id=row._mapping["user_id"],
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return token, Session(_user(row), csrf, hash_secret(token))


_S = d.web_sessions
# Built once (parameters: token_hash, now): every page request runs it.
_RESOLVE_SESSION = (
    select(*_USER_COLS, _S.c.csrf_token, _S.c.token_hash)
    .join(_S, _S.c.user_id == d.users.c.user_id)
    .where(
        _S.c.token_hash == bindparam("token_hash"),
        _S.c.revoked.is_(False),
        _S.c.expires_at > bindparam("now", type_=_S.c.expires_at.type),
        d.users.c.active.is_(True),
    )
)


def resolve_session(conn: Connection, token: str, now: datetime) -> Session | None:
    found = reads.dicts(conn, _RESOLVE_SESSION, {"token_hash": hash_secret(token), "now": now})
    if not found:
        return None
    row = found[0]
    return Session(_user(row), row["csrf_token"], row["token_hash"])


def end_session(conn: Connection, token_hash: str) -> None:
    conn.execute(
        update(d.web_sessions).where(d.web_sessions.c.token_hash == token_hash).values(revoked=True)
    )


def create_token(
    conn: Connection, name: str, scopes: set[ApiScope], created_by: int | None, now: datetime
) -> str:
    """A new API token; the secret is returned once and never stored."""
    if not scopes:
        raise ValidationError([Issue("token", None, "scopes", "give at least one scope")])
    secret = "arr_" + secrets.token_urlsafe(32)
    conn.execute(
        insert(d.api_tokens).values(
            name=name[:64],
            token_hash=hash_secret(secret),
            scopes=" ".join(sorted(s.value for s in scopes)),
            created_by=created_by,
            created_at=now,
        )
    )
    return secret


def list_tokens(conn: Connection) -> list[dict[str, object]]:
    t = d.api_tokens
    rows = conn.execute(
        select(
            t.c.token_id, t.c.name, t.c.scopes, t.c.created_at, t.c.revoked_at, t.c.last_used_at
        ).order_by(t.c.token_id)
    )
    return [dict(r._mapping) for r in rows]


def revoke_token(conn: Connection, token_id: int, now: datetime) -> None:
    conn.execute(
        update(d.api_tokens)
        .where(d.api_tokens.c.token_id == token_id, d.api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def authenticate_token(conn: Connection, secret: str, now: datetime) -> tuple[int, Actor]:
    """(token id, actor) for a live token; AuthenticationError otherwise."""
    t = d.api_tokens
    row = conn.execute(
        select(t.c.token_id, t.c.name, t.c.scopes).where(
            t.c.token_hash == hash_secret(secret), t.c.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        raise AuthenticationError("unknown or revoked API token")
    conn.execute(update(t).where(t.c.token_id == row.token_id).values(last_used_at=now))
    scopes = frozenset(ApiScope(s) for s in row.scopes.split())
    return int(row.token_id), Actor(f"token:{row.name}", None, scopes=scopes)


def create_team(conn: Connection, name: str, now: datetime) -> int:
    name = name.strip()
    if not name:
        raise ValidationError([Issue("team", None, "name", "give the team a name")])
    if conn.execute(select(d.teams.c.team_id).where(d.teams.c.name == name)).first():
        raise Conflict(f"team {name!r} exists already")
    result = conn.execute(insert(d.teams).values(name=name[:64], created_at=now))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def list_teams(conn: Connection) -> list[dict[str, object]]:
    rows = conn.execute(select(d.teams.c.team_id, d.teams.c.name).order_by(d.teams.c.name))
    return [dict(r._mapping) for r in rows]
