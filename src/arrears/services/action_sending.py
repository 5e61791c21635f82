"""From the day's proposals to contacts: each contact proposal is decided by the gate at the
moment it would go out, the decision is kept, and what is allowed is queued in the same
transaction — SMS, e-mail and letters as outbox messages, call tasks as today's next action on
the collector's queue, door visits as visit requests for the planner (``services.visits``;
one open request per account). Agency hand-overs are recorded as decisions only. Letters
(CN-R2, zh-CN or English) are queued as their final HTML; the print sender makes the PDF for
the mail house.

Messages go out at ``send_at`` local time on the business date (10:00 by default), or at once
when the run is later than that. Running the same day again queues nothing twice: each
message's key is ``date:borrower:action:template``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyarrow as pa
from babel.numbers import format_currency, get_currency_precision
from sqlalchemy import Connection, case, or_, update

from arrears.adapters.db import desk_tables as d
from arrears.domain.compliance import (
    Channel,
    HistoryEntry,
    Pack,
    decide,
)
from arrears.services.access import BATCH_ACTOR, ContactPoint, contact_points
from arrears.services.contact_gate import record_decisions
from arrears.services.letters import LETTER_TEXTS, CollectionLetter, compose_letter
from arrears.services.message_templates import render_message
from arrears.services.messaging import enqueue
from arrears.services.promises import next_promised
from arrears.services.strategy_gate import proposal_attempt
from arrears.services.template_store import message_sources, stored_latest
from arrears.services.visits import request_strategy_visits

__all__ = ["MessageTexts", "SendSummary", "send_actions"]

_MESSAGES = frozenset({"sms", "email"})


@dataclass(frozen=True, slots=True)
class MessageTexts:
    lender: str
    pay_how: str
    object_how: str


@dataclass
class SendSummary:
    decided: int = 0
    blocked: int = 0
    queued: int = 0
    already_queued: int = 0
    call_tasks: int = 0
    recorded_only: int = 0
    visits_requested: int = 0
    blocked_by: dict[str, int] = field(default_factory=dict)


def _address(person: ContactPoint | None, channel: Channel) -> str | None:
    if person is None:
        return None
    if channel is Channel.EMAIL:
        return person.email
    if channel is Channel.LETTER:
        return person.address
    return person.phone


def _amounts(status: pa.Table) -> dict[str, tuple[int, int, date | None]]:
    """borrower → (due now, next due amount, next due date) over the unpaid loans."""
    out: dict[str, tuple[int, int, date | None]] = {}
    cols = status.select(
        ["borrower_id", "total_due_now", "next_due_amount", "next_due_date", "paid_off"]
    ).to_pylist()
    for r in cols:
        if r["paid_off"]:
            continue
        due, nxt, when = out.get(r["borrower_id"], (0, 0, None))
        nd = r["next_due_date"]
        if nd is not None and (when is None or nd < when):
            when, nxt = nd, int(r["next_due_amount"] or 0)
        out[r["borrower_id"]] = (due + int(r["total_due_now"] or 0), nxt, when)
    return out


def _money(minor: int, locale: str, currency: str = "CNY") -> str:
    value = Decimal(minor).scaleb(-get_currency_precision(currency))
    return str(format_currency(value, currency, locale=locale))


def send_actions(
    conn: Connection,
    proposals: pa.Table,
    status: pa.Table,
    history: Mapping[str, Sequence[HistoryEntry]],
    as_of: date,
    now: datetime,
    lender_tz: str,
    pack: Pack,
    texts: MessageTexts,
    send_at: time = time(10, 0),
) -> SendSummary:
    """Decide, record and queue the day's contact proposals (in the caller's transaction)."""
    zone = ZoneInfo(lender_tz)
    planned = max(now, datetime.combine(as_of, send_at, zone))
    rows = [r for r in proposals.to_pylist() if r["channel"] is not None]
    people = contact_points(
        conn, BATCH_ACTOR, sorted({r["borrower_id"] for r in rows}), now, "daily_actions"
    )
    amounts = _amounts(status)
    promised = next_promised(
        conn,
        sorted({r["borrower_id"] for r in rows if str(r["template"]).startswith("sms_promise")}),
    )  # a promise reminder names the promised date and amount, not the loan's
    saved = stored_latest(conn)  # templates saved in the app win over the code defaults
    messages = message_sources(saved)
    summary = SendSummary()
    call_tasks: list[str] = []
    door_visits: list[Mapping[str, object]] = []
    # Every proposal decided, then all the decisions stored in one statement.
    judged = []
    for p in rows:
        borrower = p["borrower_id"]
        address = _address(people.get(borrower), Channel(p["channel"]))
        attempt = proposal_attempt(p, pack.pack_id, address or "", planned, lender_tz)
        judged.append((decide(attempt, history.get(borrower, ()), pack), attempt, borrower))
    ids = record_decisions(conn, judged, now)
    for p, (decision, _attempt, _), decision_id in zip(rows, judged, ids, strict=True):
        borrower = p["borrower_id"]
        person = people.get(borrower)
        channel = Channel(p["channel"])
        address = _address(person, channel)
        summary.decided += 1
        if not decision.allowed:
            summary.blocked += 1
            for rule in decision.blocked_by:
                summary.blocked_by[rule] = summary.blocked_by.get(rule, 0) + 1
            continue
        if p["channel"] in _MESSAGES and address and person is not None:
            locale = "zh_CN" if (person.country or "CN") == "CN" else "en"
            due, nxt, when = amounts.get(borrower, (0, 0, None))
            if str(p["template"]).startswith("sms_promise") and borrower in promised:
                when, due = promised[borrower]
            message = render_message(
                p["template"],
                locale,
                {
                    "name": person.name or "",
                    "lender": texts.lender,
                    "amount": _money(due or nxt, locale),
                    "due_date": when.isoformat() if when else "",
                    "days": p["dpd"],
                    "pay_how": texts.pay_how,
                    "object_how": texts.object_how,
                    "opt_out": "" if pack.pack_id == "CN" else "Reply STOP to opt out.",
                },
                messages,
            )
            queued = enqueue(
                conn,
                key=f"{as_of}:{borrower}:{p['action']}:{p['template']}",
                channel=p["channel"],
                recipient=address,
                locale=locale,
                template=p["template"],
                subject=message.subject,
                body=message.body,
                now=planned,
                borrower_id=borrower,
                loan_id=p["loan_id"],
                decision_id=decision_id,
            )
            if queued is None:
                summary.already_queued += 1
            else:
                summary.queued += 1
        elif channel is Channel.LETTER and address and person is not None:
            locale = "zh_CN" if (person.country or "CN") == "CN" else "en"
            due, nxt, _ = amounts.get(borrower, (0, 0, None))
            letter = compose_letter(
                CollectionLetter(
                    locale=locale,
                    reference=f"{as_of:%Y%m%d}-{borrower}",
                    letter_date=as_of,
                    as_of=as_of,
                    borrower_name=person.name or borrower,
                    amount_owed_minor=due or nxt,
                    currency="CNY",
                    how_to_check=texts.pay_how,
                    how_to_object=texts.object_how,
                    lender_name=texts.lender,
                    lender_contact=texts.object_how,
                    **LETTER_TEXTS[locale],
                ),
                source=saved[(p["template"], locale)].body
                if (p["template"], locale) in saved
                else None,
                with_pdf=False,  # the print sender renders the PDF from this HTML
            )
            queued = enqueue(
                conn,
                key=f"{as_of}:{borrower}:{p['action']}:{p['template']}",
                channel="letter",
                recipient=address,
                locale=locale,
                template=p["template"],
                subject=f"{texts.lender} {as_of.isoformat()}",
                body=letter.html,
                now=planned,
                borrower_id=borrower,
                loan_id=p["loan_id"],
                decision_id=decision_id,
            )
            if queued is None:
                summary.already_queued += 1
            else:
                summary.queued += 1
        elif channel is Channel.CALL:
            call_tasks.append(borrower)
        else:
            if channel is Channel.VISIT:
                door_visits.append(p)
            summary.recorded_only += 1
    _set_call_tasks(conn, call_tasks, as_of)
    summary.visits_requested = request_strategy_visits(
        conn, door_visits, {b: a[0] for b, a in amounts.items()}, now, as_of
    )
    summary.call_tasks = len(call_tasks)
    return summary


def _set_call_tasks(conn: Connection, borrowers: Sequence[str], as_of: date) -> None:
    """Today becomes the next action of these accounts (unless an earlier one is set)."""
    a = d.account_assignments
    earliest = case(
        (or_(a.c.next_action_on.is_(None), a.c.next_action_on > as_of), as_of),
        else_=a.c.next_action_on,
    )
    ids = list(dict.fromkeys(borrowers))
    for start in range(0, len(ids), 500):
        conn.execute(
            update(a)
            .where(a.c.borrower_id.in_(ids[start : start + 500]))
            .values(next_action_on=earliest)
        )
