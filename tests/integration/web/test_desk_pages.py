"""The collector's pages over HTTP (TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, func, literal, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.people import Actor, Role, mask_name
from arrears.services.access import labelled_page
from fixtures.web import csrf_of, logged_in


def _queue_ids(html: str) -> list[str]:
    return re.findall(r'href="/accounts/([^"]+)"', html)


def test_collector_queue_lists_only_own_accounts(desk_app: Any, desk_engine: Engine) -> None:
    client = logged_in(desk_app, "collector1")
    page = client.get("/queue")
    assert page.status_code == 200
    ids = set(_queue_ids(page.text))
    with desk_engine.connect() as conn:
        mine = set(
            conn.execute(
                select(d.account_assignments.c.borrower_id)
                .join(d.users, d.users.c.user_id == d.account_assignments.c.user_id)
                .where(d.users.c.username == "collector1")
            ).scalars()
        )
    assert ids and ids <= mine
    assert len(ids) == min(len(mine), 50)


def test_queue_sorts_by_dpd_both_ways(desk_app: Any) -> None:
    client = logged_in(desk_app, "collector1")
    down = [int(x) for x in re.findall(r'<tr data-dpd="(\d+)"', client.get("/queue?sort=dpd").text)]
    up = [
        int(x)
        for x in re.findall(r'<tr data-dpd="(\d+)"', client.get("/queue?sort=dpd&dir=asc").text)
    ]
    assert down == sorted(down, reverse=True)
    assert up == sorted(up)
    assert max(down) > 0, "the demo book should have overdue accounts in the queue"


def test_account_view_masks_then_unmasks_with_audit(desk_app: Any, desk_engine: Engine) -> None:
    client = logged_in(desk_app, "collector1")
    account = _queue_ids(client.get("/queue").text)[0]
    page = client.get(f"/accounts/{account}")
    assert page.status_code == 200
    phone = re.search(r'id="borrower-phone">([^<]*)<', page.text)
    assert phone and re.fullmatch(r"\d{3}\*{4}\d{4}", phone.group(1))
    id_no = re.search(r'id="borrower-id-number">([^<]*)<', page.text)
    assert id_no and re.fullmatch(r"\d{6}\*{8}[\dX]{4}", id_no.group(1))
    shown = client.post(
        f"/accounts/{account}/unmask", data={"csrf_token": csrf_of(page.text), "reason": "核实身份"}
    )
    assert shown.status_code == 200
    full = re.search(r'id="borrower-phone">([^<]*)<', shown.text)
    assert full and full.group(1).startswith("+86") and "*" not in full.group(1)
    with desk_engine.connect() as conn:
        rows = conn.execute(
            select(d.audit_log.c.action, d.audit_log.c.reason).where(
                d.audit_log.c.actor == "collector1", d.audit_log.c.subject_id == account
            )
        ).all()
    assert ("unmask_pii", "核实身份") in [(r.action, r.reason) for r in rows]
    assert "view_borrower" in [r.action for r in rows]


def test_unmask_needs_a_reason(desk_app: Any) -> None:
    client = logged_in(desk_app, "collector1")
    account = _queue_ids(client.get("/queue").text)[0]
    page = client.get(f"/accounts/{account}")
    r = client.post(f"/accounts/{account}/unmask", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 422
    assert "+86" not in r.text


def test_note_and_contact_outcome_are_recorded(desk_app: Any) -> None:
    client = logged_in(desk_app, "collector2")
    account = _queue_ids(client.get("/queue").text)[0]
    csrf = csrf_of(client.get(f"/accounts/{account}").text)
    page = client.post(
        f"/accounts/{account}/notes", data={"csrf_token": csrf, "body": "客户称月底还款 <b>x</b>"}
    )
    assert page.status_code == 200
    assert "客户称月底还款 &lt;b&gt;x&lt;/b&gt;" in page.text  # escaped, not markup
    page = client.post(
        f"/accounts/{account}/contacts",
        data={
            "csrf_token": csrf,
            "outcome": "promise_to_pay",
            "right_party": "on",
            "reason": "illness",
            "next_action_on": "2026-12-05",
        },
    )
    assert page.status_code == 200
    assert "承诺还款" in page.text and "疾病" in page.text


def test_contact_form_errors_name_the_field(desk_app: Any) -> None:
    client = logged_in(desk_app, "collector2")
    account = _queue_ids(client.get("/queue").text)[0]
    csrf = csrf_of(client.get(f"/accounts/{account}").text)
    page = client.post(
        f"/accounts/{account}/contacts",
        data={
            "csrf_token": csrf,
            "outcome": "no_answer",
            "right_party": "on",
            "next_action_on": "x",
        },
    )
    assert page.status_code == 422
    assert "next_action_on" in page.text


def test_forms_without_csrf_token_are_refused(desk_app: Any) -> None:
    client = logged_in(desk_app, "collector1")
    account = _queue_ids(client.get("/queue").text)[0]
    r = client.post(f"/accounts/{account}/notes", data={"body": "no token"})
    assert r.status_code == 403


def test_other_collectors_account_is_not_found(desk_app: Any) -> None:
    one = logged_in(desk_app, "collector1")
    two = logged_in(desk_app, "collector2")
    theirs = _queue_ids(two.get("/queue").text)[0]
    assert one.get(f"/accounts/{theirs}").status_code == 404
    assert one.get("/accounts/NO-SUCH").status_code == 404
    csrf = csrf_of(one.get("/queue").text)
    assert (
        one.post(f"/accounts/{theirs}/notes", data={"csrf_token": csrf, "body": "x"}).status_code
        == 404
    )


def test_language_switch_is_remembered_for_the_user(desk_app: Any) -> None:
    client = logged_in(desk_app, "collector1")
    assert "工作队列" in client.get("/queue").text
    csrf = csrf_of(client.get("/queue").text)
    r = client.post("/language", data={"csrf_token": csrf, "locale": "en", "back": "/queue"})
    assert r.status_code == 200 and "Work queue" in r.text
    again = logged_in(desk_app, "collector1")  # a new session: the choice is on the user
    assert "Work queue" in again.get("/queue").text
    client.post("/language", data={"csrf_token": csrf, "locale": "zh_CN", "back": "/queue"})


def test_login_is_rate_limited(desk_app: Any) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(desk_app, base_url="https://testserver")
    codes = []
    for _ in range(6):
        page = client.get("/login")
        r = client.post(
            "/login",
            data={
                "username": "ratelimit-probe",
                "password": "wrong-password",
                "csrf_token": csrf_of(page.text),
            },
        )
        codes.append(r.status_code)
    assert codes[:5] == [401] * 5
    assert codes[5] == 429


def test_pages_need_a_session(desk_app: Any) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(desk_app, base_url="https://testserver")
    r = client.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def _expected_queue(rows: list[Any], sort: str, descending: bool) -> list[str]:
    """The documented orders, computed apart: ties by account in the sort's direction; a
    missing last contact is the earliest, a missing next action the latest."""
    far_past, far_future = (0, ""), (2, "")

    def key(r: Any) -> Any:
        if sort == "dpd":
            return r.dpd
        if sort == "amount":
            return r.due_minor
        if sort == "last_contact":
            return far_past if r.last_contact_at is None else (1, r.last_contact_at.isoformat())
        return far_future if r.next_action_on is None else (1, r.next_action_on.isoformat())

    ordered = sorted(rows, key=lambda r: (key(r), r.borrower_id), reverse=descending)
    return [r.borrower_id for r in ordered]


def test_queue_orders_follow_the_documented_rules(desk_app: Any, desk_engine: Engine) -> None:
    client = logged_in(desk_app, "collector1")
    # Contacts on a few accounts (same instant: ties by account; two next actions, one none).
    for k, account in enumerate(_queue_ids(client.get("/queue?sort=amount").text)[:3]):
        page = client.get(f"/accounts/{account}")
        logged = client.post(
            f"/accounts/{account}/contacts",
            data={
                "csrf_token": csrf_of(page.text),
                "outcome": "callback",
                "channel": "phone",
                "next_action_on": "" if k == 2 else f"2026-12-0{k + 2}",
            },
            follow_redirects=False,
        )
        assert logged.status_code == 303, logged.text
    a = d.account_assignments.c
    with desk_engine.connect() as conn:
        rows = conn.execute(
            select(a.borrower_id, a.dpd, a.due_minor, a.last_contact_at, a.next_action_on)
            .join(d.users, d.users.c.user_id == a.user_id)
            .where(d.users.c.username == "collector1")
        ).all()
    assert any(r.last_contact_at is None for r in rows), "the demo should have uncontacted accounts"
    assert any(r.last_contact_at is not None for r in rows)
    assert any(r.next_action_on is None for r in rows)
    assert any(r.next_action_on is not None for r in rows)
    pages = -(-len(rows) // 50)
    for sort in ("dpd", "amount", "last_contact", "next_action"):
        for direction in ("desc", "asc"):
            shown: list[str] = []
            for page in range(1, pages + 1):
                html = client.get(f"/queue?sort={sort}&dir={direction}&page={page}").text
                shown += _queue_ids(html)
            assert shown == _expected_queue(rows, sort, direction == "desc"), (sort, direction)


def test_labelled_page_keeps_the_scope_and_the_order(desk_engine: Engine) -> None:
    """A page naming accounts of someone else gets no name or city for them, masked names
    for the own ones, in the page's order (access.labelled_page)."""
    a = d.account_assignments.c
    with desk_engine.connect() as conn:
        users = {r.username: r for r in conn.execute(select(d.users))}
        me = users["collector1"]
        actor = Actor(me.username, Role(me.role), me.user_id, me.team_id)
        order = [a.borrower_id.desc()]
        page = (
            select(a.borrower_id, a.user_id, func.row_number().over(order_by=order).label("pos"))
            .where(a.user_id.in_([me.user_id, users["collector2"].user_id]))
            .order_by(*order)
            .limit(literal(40))
        )
        rows = labelled_page(conn, actor, page, {})
        names = dict(
            conn.execute(select(t.borrowers.c.borrower_id, t.borrowers.c.name)).tuples().all()
        )
    assert [r["borrower_id"] for r, _, _ in rows] == sorted(
        (r["borrower_id"] for r, _, _ in rows), reverse=True
    )
    mine = [(r, n) for r, n, _ in rows if r["user_id"] == me.user_id]
    theirs = [(r, n, c) for r, n, c in rows if r["user_id"] != me.user_id]
    assert mine and theirs, "the page should hold accounts of both collectors"
    assert all(n == mask_name(names[r["borrower_id"]]) for r, n in mine)
    assert all(n is None and c is None for _, n, c in theirs)
