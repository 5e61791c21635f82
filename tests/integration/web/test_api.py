"""The REST API v1 over HTTP (TestClient), on SQLite and PostgreSQL.

A small named book (``fixtures.books.good_tables``: loans L1 and L2, both long overdue at
2026-11-28) is imported through ``POST /imports`` into an empty store; payments are then
posted against it and the statuses compared with independent expectations.
"""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.people import ApiScope
from arrears.services.auth import create_token
from fixtures.books import good_tables, write_csv_book
from fixtures.web import FixedClock, make_web

API = "/api/v1"
ALL_SCOPES = set(ApiScope)


def _token(engine: Engine, scopes: set[ApiScope], name: str = "test") -> dict[str, str]:
    with engine.begin() as conn:
        secret = create_token(conn, name, scopes, None, FixedClock().now())
    return {"Authorization": f"Bearer {secret}"}


def zipped_book(folder: Path, tables: dict[str, Any] | None = None, prefix: str = "") -> bytes:
    write_csv_book(folder, tables)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, prefix + path.name)
    return buffer.getvalue()


def _upload(client: TestClient, headers: dict[str, str], data: bytes) -> Any:
    files = {"file": ("book.zip", data, "application/zip")}
    return client.post(f"{API}/imports", headers=headers, files=files)


class Api:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.client = TestClient(make_web(engine), base_url="https://testserver")
        self.h = _token(engine, ALL_SCOPES, "full")

    def status(self, loan_id: str, as_of: str | None = None) -> dict[str, Any]:
        query = f"?as_of={as_of}" if as_of else ""
        r = self.client.get(f"{API}/loans/{loan_id}/status{query}", headers=self.h)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def pay(self, key: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
        payment = {
            "payment_id": "API-1",
            "loan_id": "L1",
            "paid_at": "2026-11-28T09:00:00+08:00",
            "amount": "1000.00",
            "channel": "wechat",
        } | body
        return self.client.post(
            f"{API}/payments",
            headers={**(headers or self.h), "Idempotency-Key": key},
            json={k: v for k, v in payment.items() if v is not None},
        )


@pytest.fixture
def api(store: Engine, tmp_path: Path) -> Api:
    a = Api(store)
    r = _upload(a.client, a.h, zipped_book(tmp_path / "book"))
    assert r.status_code == 201, r.text
    return a


def _count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


# --- imports --------------------------------------------------------------------------------


def test_import_reports_what_it_loaded(api: Api) -> None:
    assert _count(api.engine, t.loans) == 2
    assert _count(api.engine, t.payments) == 3
    with api.engine.connect() as conn:
        run = conn.execute(select(t.import_runs).order_by(t.import_runs.c.id.desc())).first()
    assert run is not None and run.status == "succeeded"


def test_import_again_is_idempotent_and_accepts_one_folder(api: Api, tmp_path: Path) -> None:
    r = _upload(api.client, api.h, zipped_book(tmp_path / "again", prefix="book/"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["files"] == [
        "borrowers.csv",
        "contacts.csv",
        "installments.csv",
        "loans.csv",
        "payments.csv",
    ]
    assert (body["loans"], body["payments_seen"], body["payments_new"]) == (2, 3, 0)
    assert _count(api.engine, t.payments) == 3


def test_bad_import_lists_every_issue_and_changes_nothing(api: Api, tmp_path: Path) -> None:
    tables = good_tables()
    tables["loans"][0]["principal"] = "-5"
    tables["payments"][1]["paid_at"] = "2026-02-28 23:30:00"
    tables["borrowers"].append(dict(tables["borrowers"][0], borrower_id="B3"))
    tables["loans"].append(dict(tables["loans"][1], loan_id="L3", borrower_id="B3"))
    r = _upload(api.client, api.h, zipped_book(tmp_path / "bad", tables))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    issues = {(i["file"], i["line"], i["field"]) for i in r.json()["issues"]}
    assert ("loans.csv", 2, "principal") in issues
    assert ("payments.csv", 3, "paid_at") in issues
    assert _count(api.engine, t.borrowers) == 2  # B3 not written
    assert _count(api.engine, t.loans) == 2


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        ("../borrowers.csv", "unsafe path"),
        ("/etc/borrowers.csv", "unsafe path"),
        ("a/b/borrowers.csv", "unexpected file"),
        ("evil.sh", "unexpected file"),
    ],
)
def test_import_refuses_unsafe_archives(api: Api, member: str, reason: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(member, "borrower_id,name,phone\n")
    r = _upload(api.client, api.h, buffer.getvalue())
    assert r.status_code == 422
    assert reason in r.json()["issues"][0]["reason"]


def test_import_refuses_what_is_not_a_zip(api: Api) -> None:
    r = _upload(api.client, api.h, b"borrower_id,name\n")
    assert r.status_code == 422
    assert r.json()["issues"][0]["field"] == "file"


# --- reads ----------------------------------------------------------------------------------


def test_loan_status_money_is_decimal_strings(api: Api) -> None:
    s = api.status("L1")
    assert s["as_of"] == "2026-11-28" and s["currency"] == "CNY"
    assert s["dpd"] > 0
    for field in ("overdue_principal", "total_due_now", "principal_outstanding"):
        assert Decimal(s[field]).as_tuple().exponent == -2
    earlier = api.status("L1", as_of="2026-02-01")
    assert earlier["dpd"] == 0 and earlier["total_due_now"] == "0.00"


def test_unknown_loan_and_account_are_404(api: Api) -> None:
    for path in ("/loans/NOPE/status", "/accounts/NOPE"):
        r = api.client.get(API + path, headers=api.h)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")


def test_account_is_masked_and_audited(api: Api) -> None:
    r = api.client.get(f"{API}/accounts/B1", headers=api.h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["borrower"]["masked"] is True
    assert body["borrower"]["phone"] == "138****8000"
    assert body["borrower"]["name"] == "张*"
    assert [lo["loan_id"] for lo in body["loans"]] == ["L1"]
    assert body["loans"][0]["status"]["loan_id"] == "L1"
    audited = _count(
        api.engine,
        d.audit_log,
        d.audit_log.c.action == "view_borrower",
        d.audit_log.c.actor == "token:full",
    )
    assert audited == 1


def test_accounts_list_pages(desk_app: Any, desk_engine: Engine) -> None:
    client = TestClient(desk_app, base_url="https://testserver")
    h = _token(desk_engine, {ApiScope.READ_ACCOUNTS})
    first = client.get(f"{API}/accounts?limit=5", headers=h).json()
    second = client.get(f"{API}/accounts?limit=5&offset=5", headers=h).json()
    assert first["total"] == 40 and first["as_of"] == "2026-11-28"
    ids = [i["borrower_id"] for i in first["items"] + second["items"]]
    assert ids == sorted(ids) and len(set(ids)) == 10
    assert any(
        i["dpd"] > 0 and Decimal(i["total_due"]) > 0 for i in first["items"] + second["items"]
    )


# --- payments -------------------------------------------------------------------------------


def test_payment_changes_the_status_at_once(api: Api) -> None:
    before = api.status("L1")
    yesterday = api.status("L1", as_of="2026-11-27")
    due = Decimal(before["total_due_now"])
    assert due > Decimal("1000.00"), "the fixture loan should owe more than the payment"
    r = api.pay("k-1")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["created"] is True
    assert body["paid_on"] == "2026-11-28" and body["amount"] == "1000.00"
    # All of it goes to what is due (loan-math.md: allocation before the day accrues), so the
    # total due drops by the amount, plus the day's penalty the paid 1000.00 no longer
    # accrues (at most 1000.00 x 4.35% x (1 + markup) / 360 a day; markups stay below 1).
    after = Decimal(body["status"]["total_due_now"])
    saved = due - Decimal("1000.00") - after
    assert Decimal("0.00") <= saved <= Decimal("1000.00") * Decimal("0.0435") * 2 / 360
    assert api.status("L1") == body["status"]
    # the day before is untouched: a payment counts from its own date
    assert api.status("L1", as_of="2026-11-27") == yesterday
    assert _count(api.engine, d.audit_log, d.audit_log.c.action == "post_payment") == 1


def test_paid_on_is_the_lender_date(api: Api) -> None:
    r = api.pay("k-tz", payment_id="API-TZ", paid_at="2026-11-27T17:30:00Z")  # 01:30 next day
    assert r.status_code == 201, r.text
    assert r.json()["paid_on"] == "2026-11-28"
    assert r.json()["paid_at"].startswith("2026-11-27T17:30:00")


def test_payment_clearing_the_arrears_brings_dpd_to_zero(api: Api) -> None:
    due = api.status("L2")["total_due_now"]
    r = api.pay("k-all", payment_id="API-ALL", loan_id="L2", amount=due)
    assert r.status_code == 201, r.text
    after = r.json()["status"]
    assert after["total_due_now"] == "0.00" and after["dpd"] == 0


def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    first = api.pay("k-2")
    again = api.pay("k-2")
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _count(api.engine, t.payments, t.payments.c.payment_id == "API-1") == 1
    clash = api.pay("k-2", amount="999.00")
    assert clash.status_code == 409
    assert "Idempotency-Key" in clash.json()["detail"]


def test_same_payment_id_is_one_payment(api: Api) -> None:
    assert api.pay("k-3").status_code == 201
    same = api.pay("k-4")  # another key, same payment: not a second payment
    assert same.status_code == 200 and same.json()["created"] is False
    other = api.pay("k-5", amount="5.00")
    assert other.status_code == 409
    assert "amount" in other.json()["detail"]
    assert _count(api.engine, t.payments, t.payments.c.payment_id == "API-1") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "12.345"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1,000.00"}, "amount"),
        ({"paid_at": "2026-11-28T09:00:00"}, "paid_at"),
        ({"paid_at": "2026-12-01T09:00:00+08:00"}, "paid_at"),
        ({"paid_at": "yesterday"}, "paid_at"),
        ({"loan_id": "NO-SUCH-LOAN"}, "loan_id"),
        ({"channel": "bitcoin"}, "channel"),
    ],
)
def test_bad_payments_name_the_field(api: Api, change: dict[str, Any], field: str) -> None:
    r = api.pay("k-bad", payment_id="API-BAD", **change)
    assert r.status_code == 422, r.text
    fields = [i["field"].split(".")[-1] for i in r.json()["issues"]]
    assert field in fields, r.json()
    assert _count(api.engine, t.payments, t.payments.c.payment_id == "API-BAD") == 0


def _post_raw(api: Api, amount: str) -> Any:
    raw = (
        '{"payment_id":"API-F","loan_id":"L1","paid_at":"2026-11-28T09:00:00+08:00",'
        f'"amount":{amount}}}'
    )
    return api.client.post(
        f"{API}/payments",
        headers={**api.h, "Idempotency-Key": f"k-{amount}", "Content-Type": "application/json"},
        content=raw,
    )


def test_json_number_amounts_are_read_from_their_text(api: Api) -> None:
    # 0.1000000000000000055511151231257827 is the binary float nearest 0.1: read as a float it
    # would pass as 0.10; read from its text it has too many decimals.
    refused = _post_raw(api, "0.1000000000000000055511151231257827")
    assert refused.status_code == 422, refused.text
    assert [i["field"] for i in refused.json()["issues"]] == ["amount"]
    taken = _post_raw(api, "12.30")
    assert taken.status_code == 201, taken.text
    assert taken.json()["amount"] == "12.30"


def test_payment_needs_an_idempotency_key(api: Api) -> None:
    r = api.client.post(
        f"{API}/payments",
        headers=api.h,
        json={"payment_id": "X", "loan_id": "L1", "paid_at": "2026-11-28T09:00:00Z", "amount": "1"},
    )
    assert r.status_code == 422
    assert any("Idempotency-Key" in i["field"] for i in r.json()["issues"])


# --- contacts -------------------------------------------------------------------------------


def test_call_outcome_is_recorded_once(api: Api) -> None:
    h = _token(api.engine, {ApiScope.WRITE_CONTACTS, ApiScope.READ_ACCOUNTS}, "dialer")
    call = {
        "borrower_id": "B1",
        "loan_id": "L1",
        "outcome": "promise_to_pay",
        "channel": "phone",
        "right_party": True,
        "reason": "income_drop",
        "next_action_on": "2026-12-02",
        "at": "2026-11-28T15:04:05+08:00",
        "external_id": "CALL-1",
        "remark": "will pay Friday",
    }
    first = api.client.post(f"{API}/contacts", headers=h, json=call)
    assert first.status_code == 201, first.text
    again = api.client.post(f"{API}/contacts", headers=h, json=call)
    assert again.status_code == 200
    assert again.json()["attempt_id"] == first.json()["attempt_id"]
    assert _count(api.engine, d.contact_attempts) == 1
    naive = api.client.post(
        f"{API}/contacts",
        headers=h,
        json=call | {"external_id": "CALL-2", "at": "2026-11-28T15:04"},
    )
    assert naive.status_code == 422
    assert naive.json()["issues"][0]["field"] == "at"
    wrong = api.client.post(
        f"{API}/contacts", headers=h, json=call | {"external_id": "CALL-3", "loan_id": "L2"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["issues"][0]["field"] == "loan_id"


def test_a_call_outcome_with_a_promise_records_both_or_neither(api: Api) -> None:
    from arrears.adapters.db import negotiation_tables as nt

    h = _token(api.engine, {ApiScope.WRITE_CONTACTS}, "dialer-ptp")
    call = {
        "borrower_id": "B1",
        "outcome": "promise_to_pay",
        "right_party": True,
        "at": "2026-11-28T15:04:05+08:00",
        "external_id": "PTP-1",
        "promise": {
            "items": [
                {"due_on": "2026-12-01", "amount": "300.00"},
                {"due_on": "2026-12-15", "amount": "450.50"},
            ],
            "promised_by": "spouse",
        },
    }
    attempts = _count(api.engine, d.contact_attempts)
    past = call | {
        "external_id": "PTP-0",
        "promise": {"items": [{"due_on": "2026-11-01", "amount": "300.00"}]},
    }
    refused = api.client.post(f"{API}/contacts", headers=h, json=past)
    assert refused.status_code == 422 and "before today" in refused.text
    not_ptp = api.client.post(
        f"{API}/contacts", headers=h, json=call | {"external_id": "PTP-X", "outcome": "busy"}
    )
    assert not_ptp.status_code == 422
    assert _count(api.engine, d.contact_attempts) == attempts  # nothing half-recorded
    first = api.client.post(f"{API}/contacts", headers=h, json=call)
    assert first.status_code == 201, first.text
    promise_id = first.json()["promise_id"]
    with api.engine.connect() as conn:
        row = conn.execute(select(nt.promises).where(nt.promises.c.promise_id == promise_id)).one()
    assert (row.total_minor, row.promised_by, row.status, row.recorded_by) == (
        75050,
        "spouse",
        "open",
        "token:dialer-ptp",
    )
    again = api.client.post(f"{API}/contacts", headers=h, json=call)
    assert again.status_code == 200 and again.json()["promise_id"] is None
    assert _count(api.engine, nt.promises) == 1


def test_a_dialer_token_posts_outcomes_without_reading_accounts(api: Api) -> None:
    h = _token(api.engine, {ApiScope.WRITE_CONTACTS}, "dialer-only")
    call = {
        "borrower_id": "B1",
        "outcome": "no_answer",
        "at": "2026-11-28T15:04:05+08:00",
        "external_id": "D-1",
    }
    posted = api.client.post(f"{API}/contacts", headers=h, json=call)
    assert posted.status_code == 201, posted.text
    assert api.client.get(f"{API}/accounts/B1", headers=h).status_code == 403
    unknown = api.client.post(f"{API}/contacts", headers=h, json=call | {"borrower_id": "NOPE"})
    assert unknown.status_code == 404


def test_missing_token_says_how_to_authenticate(api: Api) -> None:
    r = api.client.get(f"{API}/accounts/B1")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    bad = api.client.get(f"{API}/accounts/B1", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_same_call_id_posted_concurrently_is_one_row(api: Api) -> None:
    """Two transactions record call CALL-9 at once: the second waits on the unique index,
    then answers with the first one's row instead of failing (PostgreSQL; SQLite serialises
    writers before they get that far)."""
    if api.engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL)")
    import threading

    from arrears.domain.contacts import ContactOutcome
    from arrears.domain.people import Actor
    from arrears.services.desk import ContactInput, log_contact

    system = Actor("token:dialer", None, scopes=frozenset({ApiScope.WRITE_CONTACTS}))
    call = ContactInput(outcome=ContactOutcome("no_answer"), external_id="CALL-9")
    now = FixedClock().now()
    second: list[tuple[int, bool]] = []
    with api.engine.connect() as first_conn:
        first_tx = first_conn.begin()
        first_id, created = log_contact(first_conn, system, "B1", call, now)
        assert created

        def post_again() -> None:
            with api.engine.begin() as conn:
                second.append(log_contact(conn, system, "B1", call, now))

        worker = threading.Thread(target=post_again)
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive(), "the second writer should wait for the first"
        first_tx.commit()
        worker.join(timeout=30)
    assert second == [(first_id, False)]
    assert _count(api.engine, d.contact_attempts, d.contact_attempts.c.external_id == "CALL-9") == 1
