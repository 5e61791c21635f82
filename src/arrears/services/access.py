"""The one gate for reading a borrower: role, data scope, PII masking and the audit row.

Every read of a borrower's personal data in the web app and the API goes through
:func:`fetch_borrower` (a test forbids web code from reaching the borrower tables any other
way). Accounts a user may not see are answered exactly like accounts that do not exist
(:class:`NotFound`), so ids cannot be probed. Lists of accounts are limited with
:func:`visible_accounts`, the same scope as a SQL condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    exists,
    false,
    or_,
    select,
    true,
)

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import reads
from arrears.adapters.db import tables as t
from arrears.adapters.db import visit_tables as vt
from arrears.domain.errors import Forbidden, Issue, NotFound, ValidationError
from arrears.domain.people import (
    Actor,
    ApiScope,
    Permission,
    mask_address,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    may,
)
from arrears.services.audit import record

__all__ = [
    "BorrowerView",
    "ContactView",
    "VisitPoint",
    "account_labels",
    "check_account",
    "fetch_borrower",
    "labelled_page",
    "visible_accounts",
    "visit_points",
]


@dataclass(frozen=True, slots=True)
class ContactView:
    contact_id: str
    name: str | None
    relation: str
    phone: str | None


@dataclass(frozen=True, slots=True)
class BorrowerView:
    borrower_id: str
    name: str | None
    id_number: str | None
    phone: str | None
    email: str | None
    address: str | None
    city: str | None
    latitude: Any
    longitude: Any
    employer: str | None
    masked: bool
    assigned_to: str | None
    contacts: list[ContactView] = field(default_factory=list)


_ACCOUNT_SCOPES = frozenset(
    {ApiScope.READ_ACCOUNTS, ApiScope.WRITE_PAYMENTS, ApiScope.WRITE_CONTACTS}
)


_SCOPE_USER, _SCOPE_TEAM = "scope_user_id", "scope_team_id"


def scope_params(actor: Actor) -> dict[str, Any]:
    """The parameters of ``visible_accounts(shape_of(actor), bound=True)`` for ``actor``."""
    return {_SCOPE_USER: actor.user_id, _SCOPE_TEAM: actor.team_id}


def shape_of(actor: Actor) -> Actor:
    """What ``visible_accounts(actor, bound=True)`` builds from: the role, the token's scopes,
    whether there is a user and a team — not which. One statement then serves every actor of
    a shape (a statement per user made hundreds of large, long-lived statements: the worker's
    garbage collector paused ~100 ms traversing them, docs/benchmarks.md)."""
    return Actor(
        "",
        actor.role,
        None if actor.user_id is None else 0,
        None if actor.team_id is None else 0,
        actor.scopes,
    )


def visible_accounts(actor: Actor, *, bound: bool = False) -> ColumnElement[bool]:
    """SQL condition on ``borrowers.borrower_id``: the accounts ``actor`` may read.

    ``bound``: the user and the team as parameters (:func:`scope_params`), for a statement
    built once per :func:`shape_of` the actor."""
    if actor.role is None:
        # A system addresses any account its token serves: reading, posting payments or
        # contact outcomes (what it may *do* is checked per endpoint by its scopes).
        return true() if actor.scopes & _ACCOUNT_SCOPES else false()
    if may(actor.role, Permission.READ_ALL_ACCOUNTS):
        return true()
    if not may(actor.role, Permission.READ_ASSIGNED_ACCOUNTS):
        return false()
    a, u = d.account_assignments.alias("scope_a"), d.users.alias("scope_u")
    user: Any = bindparam(_SCOPE_USER) if bound else actor.user_id
    mine = a.c.user_id == user
    team = (
        a.c.user_id.in_(
            select(u.c.user_id).where(
                u.c.team_id == (bindparam(_SCOPE_TEAM) if bound else actor.team_id)
            )
        )
        if actor.team_id is not None
        else false()
    )
    assigned = exists().where(and_(a.c.borrower_id == t.borrowers.c.borrower_id, or_(mine, team)))
    if not may(actor.role, Permission.RECORD_VISITS):
        return assigned
    # A field team also reads the accounts on its own route (planned or being visited): the
    # dossier, a promise or a plan at the door.
    return or_(assigned, _on_my_route(actor, ("planned", "started"), bound=bound))


def check_account(conn: Connection, actor: Actor, borrower_id: str) -> None:
    """NotFound unless the borrower exists and ``actor`` may read the account."""
    found = conn.execute(
        select(t.borrowers.c.borrower_id).where(
            t.borrowers.c.borrower_id == borrower_id, visible_accounts(actor)
        )
    ).first()
    if found is None:
        raise NotFound(f"no account {borrower_id}")


# The statements below depend on the actor only through ``visible_accounts(actor,
# bound=True)``: each is built once per shape of actor (``shape_of``: role, token scopes,
# user and team present or not) and reused with the actor's ``scope_params``; nothing is
# built or hashed per request, and a handful of shapes serve any number of users.
_PER_ACTOR = 256


@lru_cache(maxsize=_PER_ACTOR)
def _borrower_statement(actor: Actor) -> Select[Any]:
    """The borrower and its contact persons in one query (parameter: borrower_id): one row
    per contact person, or one row without; an account has at most one assignment."""
    b, c = t.borrowers, t.contacts
    return (
        select(
            b,
            d.users.c.username.label("assigned_to"),
            c.c.contact_id.label("contact_person_id"),
            c.c.name.label("contact_person_name"),
            c.c.relation.label("contact_person_relation"),
            c.c.phone.label("contact_person_phone"),
        )
        .outerjoin(d.account_assignments, d.account_assignments.c.borrower_id == b.c.borrower_id)
        .outerjoin(d.users, d.users.c.user_id == d.account_assignments.c.user_id)
        .outerjoin(c, c.c.borrower_id == b.c.borrower_id)
        .where(b.c.borrower_id == bindparam("borrower_id"), visible_accounts(actor, bound=True))
        .order_by(c.c.contact_id)
    )


@lru_cache(maxsize=_PER_ACTOR)
def _labels_statement(actor: Actor) -> Select[Any]:
    b = t.borrowers
    return select(b.c.borrower_id, b.c.name, b.c.city).where(
        b.c.borrower_id.in_(bindparam("borrower_ids", expanding=True)),
        visible_accounts(actor, bound=True),
    )


def labelled_page(
    conn: Connection, actor: Actor, page: Select[Any], params: Mapping[str, Any]
) -> list[tuple[dict[str, Any], str | None, str | None]]:
    """The rows of ``page`` with each account's (masked name, city), in one statement.

    ``page``: a select of accounts (a ``borrower_id`` column and a ``pos`` column, its row
    number in the page's order — the page's order is not kept through a join otherwise),
    built once by the caller; ``params`` its parameters. An account outside ``actor``'s
    scope gets (None, None), as :func:`account_labels` leaves it out.
    """
    rows = reads.dicts(
        conn, _labelled_statement(shape_of(actor), page), {**params, **scope_params(actor)}
    )
    return [(r, mask_name(r["label_name"]), r["label_city"]) for r in rows]


@lru_cache(maxsize=_PER_ACTOR)
def _labelled_statement(actor: Actor, page: Select[Any]) -> Select[Any]:
    b = t.borrowers
    sub = page.subquery("page")
    return (
        select(sub, b.c.name.label("label_name"), b.c.city.label("label_city"))
        .select_from(
            sub.outerjoin(
                b, and_(b.c.borrower_id == sub.c.borrower_id, visible_accounts(actor, bound=True))
            )
        )
        .order_by(sub.c.pos)
    )


def fetch_borrower(
    conn: Connection,
    actor: Actor,
    borrower_id: str,
    now: datetime,
    purpose: str,
    unmask_reason: str | None = None,
    client: str | None = None,
) -> BorrowerView:
    """The borrower for ``actor``: scope checked, PII masked unless a reason is given, audited.

    ``purpose`` says which page or endpoint reads it (kept in the audit row).
    """
    rows = reads.dicts(
        conn,
        _borrower_statement(shape_of(actor)),
        {"borrower_id": borrower_id, **scope_params(actor)},
    )
    if not rows:
        raise NotFound(f"no account {borrower_id}")
    m = rows[0]
    unmask = unmask_reason is not None
    if unmask:
        if actor.role is None or not may(actor.role, Permission.UNMASK_PII):
            raise Forbidden("your role may not see unmasked personal data")
        unmask_reason = unmask_reason.strip() if unmask_reason else ""
        if len(unmask_reason) < 3:
            raise ValidationError([Issue("unmask", None, "reason", "say why (3+ characters)")])
    contacts = [
        (
            r["contact_person_id"],
            r["contact_person_name"],
            r["contact_person_relation"],
            r["contact_person_phone"],
        )
        for r in rows
        if r["contact_person_id"] is not None
    ]

    def keep(value: str | None, masker: Any) -> str | None:
        return value if unmask else masker(value)

    view = BorrowerView(
        borrower_id=m["borrower_id"],
        name=keep(m["name"], mask_name),
        id_number=keep(m["id_number"], mask_id_number),
        phone=keep(m["phone"], mask_phone),
        email=keep(m["email"], mask_email),
        address=m["address"] if unmask else mask_address(m["address"], m["city"]),
        city=m["city"],
        latitude=m["latitude"] if unmask else None,
        longitude=m["longitude"] if unmask else None,
        employer=m["employer"],
        masked=not unmask,
        assigned_to=m["assigned_to"],
        contacts=[
            ContactView(contact_id, keep(name, mask_name), relation, keep(phone, mask_phone))
            for contact_id, name, relation, phone in contacts
        ],
    )
    record(
        conn,
        actor,
        "unmask_pii" if unmask else "view_borrower",
        "borrower",
        borrower_id,
        now,
        reason=unmask_reason,
        detail={"purpose": purpose, "masked": not unmask},
        client=client,
    )
    return view


def account_labels(
    conn: Connection, actor: Actor, borrower_ids: list[str]
) -> dict[str, tuple[str | None, str | None]]:
    """(masked name, city) of each visible account, for lists such as the work queue."""
    if not borrower_ids:
        return {}
    rows = conn.execute(
        _labels_statement(shape_of(actor)),
        {"borrower_ids": list(borrower_ids), **scope_params(actor)},
    )
    return {r.borrower_id: (mask_name(r.name), r.city) for r in rows}


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """Where a contact goes: what a message or a call needs, unmasked, for sending only."""

    borrower_id: str
    name: str | None
    phone: str | None
    email: str | None
    country: str | None
    address: str | None


def contact_points(
    conn: Connection,
    actor: Actor,
    borrower_ids: Sequence[str] | None,
    now: datetime,
    purpose: str,
) -> dict[str, ContactPoint]:
    """The contact points of the accounts ``actor`` may address (all when ``borrower_ids`` is
    None), to place a call or send a message — never to display. One audit row per call,
    with the purpose and how many accounts were read."""
    b = t.borrowers
    q = select(b.c.borrower_id, b.c.name, b.c.phone, b.c.email, b.c.country, b.c.address).where(
        visible_accounts(actor)
    )
    out: dict[str, ContactPoint] = {}
    if borrower_ids is None:
        out = {r.borrower_id: ContactPoint(*r) for r in conn.execute(q)}
    else:
        ids = list(dict.fromkeys(borrower_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            out |= {
                r.borrower_id: ContactPoint(*r)
                for r in conn.execute(q.where(b.c.borrower_id.in_(chunk)))
            }
    subject = next(iter(out)) if len(out) == 1 else None
    record(
        conn,
        actor,
        "read_contact_points",
        "borrower",
        subject,
        now,
        detail={"purpose": purpose, "accounts": len(out)},
    )
    return out


@dataclass(frozen=True, slots=True)
class VisitPoint:
    """Where a door visit goes: unmasked, for planning a route and for the route sheet."""

    borrower_id: str
    name: str | None
    phone: str | None
    address: str | None
    city: str | None
    latitude: Any  # Decimal | None (WGS84)
    longitude: Any


# A visit is "on a route" of a field team once planned (also under way and done that day).
_ON_ROUTE = ("planned", "started", "done")


def _on_my_route(
    actor: Actor, statuses: Sequence[str] = _ON_ROUTE, *, bound: bool = False
) -> ColumnElement[bool]:
    """SQL condition on ``borrowers.borrower_id``: a visit planned for a field team that
    ``actor`` belongs to (the team's agents see the stops of their own route)."""
    if actor.user_id is None:
        return false()
    v, m = vt.visit_requests.alias("route_v"), vt.field_team_members.alias("route_m")
    return exists().where(
        and_(
            v.c.borrower_id == t.borrowers.c.borrower_id,
            v.c.status.in_(list(statuses)),
            v.c.team_id.in_(
                select(m.c.team_id).where(
                    m.c.user_id == (bindparam(_SCOPE_USER) if bound else actor.user_id)
                )
            ),
        )
    )


def visit_points(
    conn: Connection,
    actor: Actor,
    borrower_ids: Sequence[str],
    now: datetime,
    purpose: str,
) -> dict[str, VisitPoint]:
    """Name, phone, address and coordinates of the accounts ``actor`` may address, to plan
    door visits or to print a route sheet. Scope: the accounts ``actor`` may read, and for a
    field agent also the stops planned for their own field team. One audit row per call,
    with the purpose and how many accounts were read."""
    b = t.borrowers
    q = select(
        b.c.borrower_id, b.c.name, b.c.phone, b.c.address, b.c.city, b.c.latitude, b.c.longitude
    ).where(or_(visible_accounts(actor), _on_my_route(actor)))
    out: dict[str, VisitPoint] = {}
    ids = list(dict.fromkeys(borrower_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        out |= {
            r.borrower_id: VisitPoint(*r) for r in conn.execute(q.where(b.c.borrower_id.in_(chunk)))
        }
    subject = next(iter(out)) if len(out) == 1 else None
    record(
        conn,
        actor,
        "read_visit_points",
        "borrower",
        subject,
        now,
        detail={"purpose": purpose, "accounts": len(out)},
    )
    return out


# The daily batch as an actor: it addresses every account (strategy, gate, outbox).
BATCH_ACTOR = Actor("system:daily-batch", None, scopes=frozenset({ApiScope.READ_ACCOUNTS}))
