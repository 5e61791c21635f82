"""Who may call what: every route of the OpenAPI schema against every kind of caller.

No token, a revoked token → 401; a token without the route's scope → 403; a token with it →
anything but 401/403. A signed-in person's session cookie opens no API route.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.people import ApiScope
from arrears.services.auth import create_token, revoke_token
from fixtures.web import FixedClock, logged_in

API = "/api/v1"
SCOPE_OF = {
    ("get", "/api/v1/accounts"): ApiScope.READ_ACCOUNTS,
    ("get", "/api/v1/accounts/{borrower_id}"): ApiScope.READ_ACCOUNTS,
    ("get", "/api/v1/loans/{loan_id}/status"): ApiScope.READ_ACCOUNTS,
    ("post", "/api/v1/payments"): ApiScope.WRITE_PAYMENTS,
    ("post", "/api/v1/contacts"): ApiScope.WRITE_CONTACTS,
    ("post", "/api/v1/imports"): ApiScope.IMPORT_BOOK,
}
# Signed by a provider's shared secret instead of a token (tested below and with the outbox).
SIGNED = {("post", "/api/v1/webhooks/sms")}


def _secret(engine: Engine, scopes: set[ApiScope], revoked: bool = False) -> str:
    now = FixedClock().now()
    with engine.begin() as conn:
        secret = create_token(conn, "matrix", scopes, None, now)
        if revoked:
            token_id = conn.execute(select(func.max(d.api_tokens.c.token_id))).scalar_one()
            revoke_token(conn, int(token_id), now)
    return secret


def _operations(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get(f"{API}/openapi.json").json()
    return [(method, path) for path, ops in spec["paths"].items() for method in ops]


def _call(
    client: TestClient, method: str, path: str, headers: dict[str, str], ids: dict[str, str]
) -> Any:
    url = path.format(**ids)
    # Bodies that are valid in shape but name nothing that exists: they change nothing.
    if path.endswith("/payments"):
        body = {
            "payment_id": "MATRIX-1",
            "loan_id": "NO-SUCH-LOAN",
            "paid_at": "2026-11-28T09:00:00+08:00",
            "amount": "1.00",
        }
        return client.post(url, headers={**headers, "Idempotency-Key": "m-1"}, json=body)
    if path.endswith("/contacts"):
        body = {
            "borrower_id": "NO-SUCH-ACCOUNT",
            "outcome": "no_answer",
            "at": "2026-11-28T09:00:00+08:00",
            "external_id": "MATRIX-CALL",
        }
        return client.post(url, headers=headers, json=body)
    if path.endswith("/imports"):
        return client.post(url, headers=headers, files={"file": ("x.zip", b"not a zip")})
    return client.request(method.upper(), url, headers=headers)


@pytest.fixture(scope="module")
def ids(desk_engine: Engine) -> dict[str, str]:
    with desk_engine.connect() as conn:
        loan = conn.execute(
            select(t.loans.c.loan_id, t.loans.c.borrower_id).order_by(t.loans.c.loan_id)
        ).first()
    assert loan is not None
    return {"borrower_id": loan.borrower_id, "loan_id": loan.loan_id}


def test_every_route_is_in_the_matrix(desk_app: Any) -> None:
    client = TestClient(desk_app, base_url="https://testserver")
    assert set(_operations(client)) == set(SCOPE_OF) | SIGNED


def test_authorization_matrix(desk_app: Any, desk_engine: Engine, ids: dict[str, str]) -> None:
    client = TestClient(desk_app, base_url="https://testserver")
    revoked = _secret(desk_engine, set(ApiScope), revoked=True)
    failures = []
    for method, path in _operations(client):
        if (method, path) in SIGNED:
            continue
        scope = SCOPE_OF[(method, path)]
        lacking = _secret(desk_engine, set(ApiScope) - {scope})
        holding = _secret(desk_engine, {scope})
        cases = {
            "no token": ({}, {401}),
            "malformed header": ({"Authorization": "Basic dXNlcjpwYXNz"}, {401}),
            "unknown token": ({"Authorization": "Bearer arr_nope"}, {401}),
            "revoked token": ({"Authorization": f"Bearer {revoked}"}, {401}),
            "token lacking the scope": ({"Authorization": f"Bearer {lacking}"}, {403}),
        }
        for label, (headers, expected) in cases.items():
            r = _call(client, method, path, headers, ids)
            if r.status_code not in expected:
                failures.append(f"{method} {path} with {label}: {r.status_code}")
            elif not r.headers["content-type"].startswith("application/problem+json"):
                failures.append(f"{method} {path} with {label}: not problem+json")
        r = _call(client, method, path, {"Authorization": f"Bearer {holding}"}, ids)
        if r.status_code in (401, 403) or r.status_code >= 500:
            failures.append(f"{method} {path} with the scope: {r.status_code} {r.text[:200]}")
    assert failures == []


def test_a_session_cookie_does_not_open_the_api(desk_app: Any, ids: dict[str, str]) -> None:
    person = logged_in(desk_app, "manager")  # may read every account in the pages
    assert person.get(f"/accounts/{ids['borrower_id']}").status_code == 200
    for path in ("/accounts", f"/accounts/{ids['borrower_id']}"):
        r = person.get(API + path)
        assert r.status_code == 401, r.text
    r = person.post(f"{API}/contacts", json={"borrower_id": ids["borrower_id"]})
    assert r.status_code == 401


def test_a_token_does_not_open_the_signed_webhook(desk_app: Any, desk_engine: Engine) -> None:
    client = TestClient(desk_app, base_url="https://testserver")
    full = _secret(desk_engine, set(ApiScope))
    r = client.post(
        f"{API}/webhooks/sms",
        json={"id": "P1", "status": "delivered", "at": "2026-11-28T10:00:00+08:00"},
        headers={"Authorization": f"Bearer {full}"},
    )
    assert r.status_code == 401
