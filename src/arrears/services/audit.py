"""The audit log: who did or saw what, when and why. Append-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import reads
from arrears.domain.people import Actor

__all__ = ["AuditEntry", "AuditQuery", "query_audit", "record"]


# One statement object for every row (its parameters differ): SQLAlchemy reuses its
# compiled form without building the statement and its cache key on each call.
_INSERT = insert(d.audit_log)


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: str | None,
    now: datetime,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
    client: str | None = None,
) -> None:
    reads.write(
        conn,
        _INSERT,
        {
            "at": now,
            "actor": actor.name[:80],
            "role": actor.role.value if actor.role else "system",
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "reason": reason,
            "detail": detail or {},
            "client": (client or "")[:64] or None,
        },
    )


@dataclass(frozen=True, slots=True)
class AuditQuery:
    actor: str | None = None
    action: str | None = None
    subject_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    offset: int = 0


@dataclass(frozen=True, slots=True)
class AuditEntry:
    audit_id: int
    at: datetime
    actor: str
    role: str
    action: str
    subject_type: str
    subject_id: str | None
    reason: str | None
    detail: dict[str, Any]
    client: str | None


def query_audit(conn: Connection, q: AuditQuery) -> tuple[list[AuditEntry], int]:
    """Entries matching ``q``, newest first, and how many match in all."""
    a = d.audit_log
    conds = []
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
    total = conn.execute(select(func.count()).select_from(a).where(*conds)).scalar_one()
    rows = conn.execute(
        select(a)
        .where(*conds)
        .order_by(a.c.at.desc(), a.c.audit_id.desc())
        .limit(max(1, min(q.limit, 1000)))
        .offset(max(0, q.offset))
    )
    return [AuditEntry(**r._mapping) for r in rows], int(total)
