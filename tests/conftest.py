"""Shared fixtures: a throwaway PostgreSQL cluster for integration tests.

``pg_url`` (session): the server URL, from ``ARREARS_TEST_PG_URL`` or a cluster started with
the STACK.md recipe in a temp dir (stopped at session end). ``pg_database_url`` (function):
a fresh, empty database on that server, dropped afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

# Shared fixture builders live in tests/fixtures/ and are imported as ``fixtures.*``.
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


def _pg_bin() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: str) -> None:
    argv = (
        ["su", "postgres", "-s", "/bin/bash", "-c", cmd]
        if os.geteuid() == 0
        else ["bash", "-c", cmd]
    )
    subprocess.run(argv, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    env = os.environ.get("ARREARS_TEST_PG_URL")
    if env:
        yield env
        return
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL binaries under /usr/lib/postgresql/*/bin: "
            "apt-get install postgresql, or set ARREARS_TEST_PG_URL"
        )
    pgdir = Path(tempfile.mkdtemp(prefix="arrears-pg-"))
    if os.geteuid() == 0:
        shutil.chown(pgdir, "postgres")
    port = _free_port()
    _as_postgres(
        f"{bindir}/initdb -D {pgdir}/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8"
    )
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {pgdir} -c fsync=off"
    _as_postgres(f"{bindir}/pg_ctl -D {pgdir}/data -l {pgdir}/log -o '{opts}' -w start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _as_postgres(f"{bindir}/pg_ctl -D {pgdir}/data -m fast -w stop")
        shutil.rmtree(pgdir, ignore_errors=True)


@pytest.fixture
def pg_database_url(pg_url: str) -> Iterator[str]:
    """A fresh empty database on the test server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty store: a SQLite file, then a fresh PostgreSQL database."""
    from arrears.adapters.db.engine import make_engine, upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_database_url")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def desk_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """The demo book (40 borrowers, cycled to 2026-11-28) and the demo users, once per backend.

    Shared by the web tests of a session: tests add notes and contacts but never rely on
    their absence.
    """
    from fixtures.web import build_desk_store

    workdir = tmp_path_factory.mktemp(f"desk-{request.param}")
    if request.param == "sqlite":
        engine = build_desk_store(f"sqlite:///{workdir / 'store.db'}", workdir)
        yield engine
        engine.dispose()
        return
    server = request.getfixturevalue("pg_url")
    name = f"desk_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = build_desk_store(
        make_url(server).set(database=name).render_as_string(hide_password=False), workdir
    )
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def desk_app(desk_engine: Engine) -> Any:
    """The web app (FastAPI) over ``desk_engine``, with a fixed clock."""
    from fixtures.web import make_web

    return make_web(desk_engine)
