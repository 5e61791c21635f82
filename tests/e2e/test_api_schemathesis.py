"""Schemathesis over the API's own OpenAPI schema: no input makes it fail (5xx) and every
answer matches what the schema documents (status, body, problem+json errors).

The app runs over a fresh store (SQLite, then PostgreSQL) holding the small named book, with a
token holding every scope. ``POST /imports`` is fuzzed too: random bytes are not a zip (422).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine, create_engine

from arrears.domain.people import ApiScope
from arrears.services.auth import create_token
from fixtures.books import write_csv_book
from fixtures.web import FixedClock, make_web

# The schema is read once, at collection, from an app whose store is set per test (the
# schema itself needs no store); each test points the app at a fresh store with the book.
APP = make_web(create_engine("sqlite://"))
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@pytest.fixture
def api_headers(store: Engine, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A token with every scope on a fresh store holding the small named book."""
    previous = APP.state.web.engine
    APP.state.web.engine = store
    with store.begin() as conn:
        secret = create_token(conn, "fuzz", set(ApiScope), None, FixedClock().now())
    headers = {"Authorization": f"Bearer {secret}"}
    folder = write_csv_book(tmp_path / "book")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in folder.iterdir():
            zf.write(path, path.name)
    client = TestClient(APP, base_url="https://testserver")
    files = {"file": ("book.zip", buffer.getvalue(), "application/zip")}
    assert client.post("/api/v1/imports", headers=headers, files=files).status_code == 201
    yield headers
    APP.state.web.engine = previous


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: Any, api_headers: dict[str, str]) -> None:
    # The generated case carries a made-up bearer token (the schema's security scheme):
    # replace it with the real one, so the calls get past authentication.
    case.headers = {**(case.headers or {}), **api_headers}
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
