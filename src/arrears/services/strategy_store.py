"""Strategies saved from the app: each save is a new version (append-only, audited); the
newest version of the newest saved strategy is the one the daily batch runs. Until a manager
saves one, the shipped default (``strategies/default_cn.yaml``) runs.

A stored strategy's challengers name other stored strategies (``strategy: fast`` or
``fast.yaml``: the newest version of the strategy named ``fast``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from arrears.adapters.db import compliance_tables as ct
from arrears.adapters.db import tables as t
from arrears.adapters.db.book_store import read_status
from arrears.domain.errors import Issue, ValidationError
from arrears.domain.people import Actor
from arrears.domain.strategy import Arm, Strategy, arms_of
from arrears.services.audit import record
from arrears.services.strategy_files import load_arms, parse_strategy_text
from arrears.services.strategy_run import ActionsResult, propose_from_status

__all__ = [
    "StoredVersion",
    "active_arms",
    "active_text",
    "preview",
    "save_strategy",
    "versions",
]

MAX_BYTES = 200_000


@dataclass(frozen=True, slots=True)
class StoredVersion:
    version_id: int
    name: str
    version: str
    note: str | None
    created_by: str
    created_at: datetime


def versions(conn: Connection, limit: int = 50) -> list[StoredVersion]:
    v = ct.strategy_versions
    rows = conn.execute(
        select(v.c.version_id, v.c.name, v.c.version, v.c.note, v.c.created_by, v.c.created_at)
        .order_by(v.c.version_id.desc())
        .limit(limit)
    )
    return [StoredVersion(*r) for r in rows]


def active_text(conn: Connection) -> tuple[str, str] | None:
    """(YAML, document name) of the strategy that runs, when one was saved."""
    v = ct.strategy_versions
    row = conn.execute(
        select(v.c.body, v.c.name, v.c.version).order_by(v.c.version_id.desc()).limit(1)
    ).first()
    return None if row is None else (row.body, f"{row.name} v{row.version}")


def _stored(conn: Connection, name: str) -> str | None:
    v = ct.strategy_versions
    found: Any = conn.execute(
        select(v.c.body).where(v.c.name == name).order_by(v.c.version_id.desc()).limit(1)
    ).scalar()
    return None if found is None else str(found)


def _arms(conn: Connection, champion: Strategy, document: str) -> tuple[Arm, ...]:
    resolved: dict[str, Strategy] = {}
    issues: list[Issue] = []
    for c in champion.challengers:
        name = c.strategy.removesuffix(".yaml").removesuffix(".yml")
        body = _stored(conn, name)
        if body is None:
            issues.append(Issue(document, None, "challengers", f"no saved strategy named {name!r}"))
            continue
        resolved[c.strategy] = parse_strategy_text(body, name)
    if issues:
        raise ValidationError(issues)
    return arms_of(champion, resolved)


def active_arms(conn: Connection) -> tuple[tuple[Arm, ...], str]:
    """The arms the daily batch runs, and where they come from."""
    found = active_text(conn)
    if found is None:
        return load_arms(), "default_cn.yaml (shipped)"
    text, document = found
    return _arms(conn, parse_strategy_text(text, document), document), document


def parse(conn: Connection, text: str) -> tuple[Strategy, tuple[Arm, ...]]:
    """A strategy typed in the editor, validated with its challengers (ValidationError)."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ValidationError([Issue("strategy", None, None, f"at most {MAX_BYTES} bytes")])
    strategy = parse_strategy_text(text, "strategy")
    return strategy, _arms(conn, strategy, "strategy")


def save_strategy(
    conn: Connection, actor: Actor, text: str, now: datetime, note: str | None = None
) -> int:
    """Validate and store a new version; audited. A name and version saved before is refused:
    change ``version`` for every edit."""
    strategy, _ = parse(conn, text)
    v = ct.strategy_versions
    taken = conn.execute(
        select(func.count())
        .select_from(v)
        .where(v.c.name == strategy.name, v.c.version == strategy.version)
    ).scalar_one()
    if taken:
        raise ValidationError(
            [
                Issue(
                    "strategy",
                    None,
                    "version",
                    f"{strategy.name} version {strategy.version} is saved already: "
                    "give this edit a new version",
                )
            ]
        )
    result = conn.execute(
        insert(v).values(
            name=strategy.name,
            version=strategy.version,
            body=text,
            note=(note or "").strip()[:500] or None,
            created_by=actor.name,
            created_at=now,
        )
    )
    version_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    record(
        conn,
        actor,
        "save_strategy",
        "strategy",
        f"{strategy.name} v{strategy.version}",
        now,
        detail={"version_id": version_id, "segments": len(strategy.segments)},
    )
    return version_id


def preview(
    conn: Connection, text: str, lender_tz: str
) -> tuple[Strategy, ActionsResult | None, date | None]:
    """What the typed strategy would propose on the last cycle date (nothing is stored or
    sent); ValidationError when it does not parse."""
    strategy, arms = parse(conn, text)
    last = conn.execute(select(func.max(t.status_history.c.as_of))).scalar()
    if not isinstance(last, date):
        return strategy, None, None
    status = read_status(conn, last)
    return strategy, propose_from_status(conn, status, last, arms, lender_tz), last
