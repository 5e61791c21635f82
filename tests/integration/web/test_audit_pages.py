"""The audit log pages (table and CSV) over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from arrears.adapters.db import desk_tables as d
from fixtures.web import csrf_of, logged_in


def _total(html: str) -> int:
    found = re.search(r'id="audit-total" data-total="(\d+)"', html)
    assert found, "no total on the audit page"
    return int(found.group(1))


def _rows(html: str) -> list[dict[str, str]]:
    """(audit id, action, actor, subject, reason) of each table row."""
    body = html.split('id="audit-table"', 1)[1]
    rows = []
    for m in re.finditer(
        r'<tr data-audit-id="(\d+)" data-action="([^"]+)">(.*?)</tr>', body, flags=re.S
    ):
        actor = re.search(r'<td class="actor">([^<]*)</td>', m.group(3))
        reason = re.search(r'<td class="reason">([^<]*)</td>', m.group(3))
        assert actor and reason
        rows.append(
            {
                "id": m.group(1),
                "action": m.group(2),
                "actor": actor.group(1),
                "reason": reason.group(1),
            }
        )
    return rows


def _unmask(desk_app: Any, username: str, reason: str) -> str:
    """``username`` unmasks the first account of their queue through the page; its id."""
    client = logged_in(desk_app, username)
    account = re.findall(r'href="/accounts/([^"]+)"', client.get("/queue").text)[0]
    page = client.get(f"/accounts/{account}")
    shown = client.post(
        f"/accounts/{account}/unmask", data={"csrf_token": csrf_of(page.text), "reason": reason}
    )
    assert shown.status_code == 200
    return str(account)


def _count(engine: Engine, *conds: Any) -> int:
    a = d.audit_log
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(a).where(*conds)).scalar_one())


def test_compliance_sees_who_unmasked_whom_and_why(desk_app: Any) -> None:
    reason = f"核实身份 {uuid.uuid4().hex[:6]}"
    account = _unmask(desk_app, "collector1", reason)
    client = logged_in(desk_app, "compliance")
    page = client.get("/audit", params={"action": "unmask_pii", "subject": account})
    assert page.status_code == 200
    rows = _rows(page.text)
    assert {"action": "unmask_pii", "actor": "collector1", "reason": reason} in [
        {k: r[k] for k in ("action", "actor", "reason")} for r in rows
    ]
    assert all(r["action"] == "unmask_pii" for r in rows)
    assert f'href="/audit?subject={account}"' in page.text
    # the purpose of the view and the client address are shown too
    assert "testclient" in page.text


def test_filters_narrow_like_the_store(desk_app: Any, desk_engine: Engine) -> None:
    _unmask(desk_app, "collector2", "回访确认")
    client = logged_in(desk_app, "compliance")
    a = d.audit_log
    everything = _total(client.get("/audit").text)
    assert everything == _count(desk_engine)
    by_actor = _total(client.get("/audit", params={"actor": "collector2"}).text)
    assert by_actor == _count(desk_engine, a.c.actor == "collector2")
    both = client.get("/audit", params={"actor": "collector2", "action": "view_borrower"})
    assert _total(both.text) == _count(
        desk_engine, a.c.actor == "collector2", a.c.action == "view_borrower"
    )
    assert 0 < _total(both.text) < by_actor < everything
    assert {r["actor"] for r in _rows(both.text)} == {"collector2"}
    # the fixed clock is 2026-11-28 18:00 in Shanghai: every entry is on that lender day
    day = {"actor": "collector2", "from": "2026-11-28", "to": "2026-11-28"}
    assert _total(client.get("/audit", params=day).text) == by_actor
    assert _total(client.get("/audit", params={**day, "from": "2026-11-29", "to": ""}).text) == 0
    assert _total(client.get("/audit", params={**day, "from": "", "to": "2026-11-27"}).text) == 0


def test_pages_run_newest_first_without_overlap(desk_app: Any) -> None:
    client = logged_in(desk_app, "compliance")
    field = logged_in(desk_app, "field1")
    account = re.findall(r'href="/accounts/([^"]+)"', field.get("/queue").text)[0]
    while _total(client.get("/audit").text) <= 60:  # more than one page: each view is a row
        for _ in range(10):
            assert field.get(f"/accounts/{account}").status_code == 200
    first = [int(r["id"]) for r in _rows(client.get("/audit").text)]
    second = [int(r["id"]) for r in _rows(client.get("/audit", params={"page": 2}).text)]
    assert len(first) == 50
    assert first == sorted(first, reverse=True)
    assert second and max(second) < min(first)


def test_bad_dates_are_refused_with_the_field(desk_app: Any) -> None:
    client = logged_in(desk_app, "compliance")
    page = client.get("/audit", params={"from": "28.11.2026"})
    assert page.status_code == 422
    assert 'data-field="from"' in page.text
    page = client.get("/audit", params={"from": "2026-11-28", "to": "2026-11-01"})
    assert page.status_code == 422 and 'data-field="to"' in page.text


def test_csv_has_the_same_rows_and_is_audited(desk_app: Any, desk_engine: Engine) -> None:
    _unmask(desk_app, "collector1", "=HYPERLINK(1) 导出测试")
    client = logged_in(desk_app, "compliance")
    params = {"actor": "collector1", "action": "unmask_pii"}
    rows = _rows(client.get("/audit", params=params).text)
    exports_before = _count(desk_engine, d.audit_log.c.action == "export_audit")
    r = client.get("/audit.csv", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    header, body = table[0], table[1:]
    assert len(header) == 10
    assert len(body) == len(rows)
    unformula = [c[6][1:] if c[6].startswith("'=") else c[6] for c in body]
    assert [(c[1], c[3], u) for c, u in zip(body, unformula, strict=True)] == [
        (x["actor"], x["action"], html.unescape(x["reason"])) for x in rows
    ]
    assert "'=HYPERLINK(1) 导出测试" in [c[6] for c in body]  # no formula in a spreadsheet
    assert all(re.fullmatch(r"2026-11-28T18:00:00\+08:00", c[0]) for c in body)
    assert _count(desk_engine, d.audit_log.c.action == "export_audit") == exports_before + 1
    with desk_engine.connect() as conn:
        row = conn.execute(
            select(d.audit_log.c.actor, d.audit_log.c.detail)
            .where(d.audit_log.c.action == "export_audit")
            .order_by(d.audit_log.c.audit_id.desc())
        ).first()
    assert row is not None and row.actor == "compliance"
    assert row.detail["filter"] == params and row.detail["rows"] == len(rows)


def test_admin_may_read_the_audit_log(desk_app: Any) -> None:
    assert logged_in(desk_app, "admin").get("/audit").status_code == 200


@pytest.mark.parametrize("username", ["collector1", "manager", "field1"])
@pytest.mark.parametrize("path", ["/audit", "/audit.csv"])
def test_other_roles_may_not_read_the_audit_log(desk_app: Any, username: str, path: str) -> None:
    r = logged_in(desk_app, username).get(path)
    assert r.status_code == 403
    assert "audit-table" not in r.text and "\ufeff" not in r.text
