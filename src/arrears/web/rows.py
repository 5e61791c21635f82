"""The desk's long tables, rendered in Python: the work queue's rows, loan schedules, payments.

These are the hot pages' largest parts (50 queue rows, ~100 schedule rows, up to 100 payments
per view). In a Jinja loop each cell costs an attribute lookup, a context call, an escape and
a generator step; here a row is one f-string (a fifth of the CPU). Every value that is not a
number is escaped (``markupsafe.escape``); numbers are formatted as ints. The markup is the
same as the templates had: tests and pages select on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from arrears.services.desk import QueueRow
from arrears.web.i18n import Lang

__all__ = ["payment_rows", "queue_rows", "schedule_rows"]


_SPECIAL = re.compile(r"[&<>\"']")


def _e(value: object) -> str:
    """``markupsafe.escape`` as text; most values (amounts, dates, ids) have nothing to
    escape, and a search is cheaper than the escape's ``Markup`` round trip."""
    if value is None:
        return ""
    text = str(value)
    return str(escape(text)) if _SPECIAL.search(text) else text


def queue_rows(rows: Iterable[QueueRow], lang: Lang) -> Markup:
    money, when, day = lang.money, lang.datetime, lang.date
    out = []
    for r in rows:
        bucket = _e(r.bucket)
        out.append(
            f'<tr data-dpd="{int(r.dpd)}">\n'
            f'  <td><a href="/accounts/{_e(quote(r.borrower_id, safe="/"))}">'
            f"{_e(r.borrower_id)}</a></td>\n"
            f"  <td>{_e(r.name)}</td><td>{_e(r.city)}</td>"
            f'<td class="num">{int(r.loans)}</td>\n'
            f'  <td class="num">{int(r.dpd)}</td>'
            f'<td><span class="bucket b-{_e(r.bucket[:2])}">{bucket}</span></td>\n'
            f'  <td class="num">{_e(money(r.total_due_minor))}</td>\n'
            f"  <td>{_e(when(r.last_contact_at))}</td><td>{_e(day(r.next_action_on))}</td>\n"
            "</tr>\n"
        )
    return Markup("".join(out))  # noqa: S704 - every value above is escaped or an int


def schedule_rows(
    rows: Iterable[Mapping[str, Any]], currency: str, lang: Lang, states: Mapping[str, str]
) -> Markup:
    """One loan's installments (``services.desk.schedules_of``) with paid and state."""
    day = lang.date
    money = lang.money
    out = []
    for i in rows:
        state = i["state"]
        out.append(
            f'<tr class="st-{_e(state)}"><td>{int(i["seq"])}</td><td>{_e(day(i["due_date"]))}</td>'
            f'<td class="num">{_e(money(i["principal_minor"], currency))}</td>'
            f'<td class="num">{_e(money(i["interest_minor"], currency))}</td>'
            f'<td class="num">{_e(money(i["amount_minor"], currency))}</td>'
            f'<td class="num">{_e(money(i["paid_minor"], currency))}</td>'
            f"<td>{_e(states.get(state, state))}</td></tr>\n"
        )
    return Markup("".join(out))  # noqa: S704 - every value above is escaped or an int


def payment_rows(payments: Iterable[Mapping[str, Any]], lang: Lang) -> Markup:
    """The account's payments, newest first (``services.desk.payments_of``)."""
    when, money = lang.datetime, lang.money
    out = [
        f"<tr><td>{_e(when(p['paid_at']))}</td><td>{_e(p['loan_id'])}</td>"
        f'<td class="num">{_e(money(p["amount_minor"]))}</td><td>{_e(p["channel"])}</td>'
        f"<td>{_e(p['payment_id'])}</td></tr>\n"
        for p in payments
    ]
    return Markup("".join(out))  # noqa: S704 - every value above is escaped
