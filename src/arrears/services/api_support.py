"""What the REST API needs from the store besides the desk: tokens, idempotency keys, account
summaries, and unpacking an uploaded book.

Borrower data is never read here (only ids); the account view goes through
``arrears.services.access``.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.errors import Conflict, Issue, NotFound, ValidationError
from arrears.domain.people import Actor
from arrears.services.access import check_account, visible_accounts
from arrears.services.audit import record
from arrears.services.auth import authenticate_token
from arrears.services.desk import last_cycle_date
from arrears.services.importing import Clock as ImportClock
from arrears.services.importing import ImportReport, import_book

__all__ = [
    "BOOK_FILES",
    "MAX_UNPACKED_BYTES",
    "AccountSummary",
    "Stored",
    "account_summaries",
    "authenticate",
    "import_upload",
    "loan_account",
    "request_hash",
    "run_idempotent",
    "unpack_book",
]

BOOK_FILES = frozenset(
    f"{name}.{ext}"
    for name in ("borrowers", "contacts", "loans", "installments", "payments")
    for ext in ("csv", "parquet")
)
MAX_UNPACKED_BYTES = 2 * 1024**3  # all members together, counted while writing
_UPLOAD = "upload"


def authenticate(engine: Engine, secret: str, now: datetime) -> tuple[int, Actor]:
    """(token id, actor) for a live token; AuthenticationError otherwise."""
    with engine.begin() as conn:
        return authenticate_token(conn, secret, now)


# --- idempotency keys ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stored:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def request_hash(payload: object) -> str:
    """SHA-256 of a request's canonical JSON (key order and spacing do not matter)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _lookup(conn: Connection, token_id: int, key: str, digest: str) -> Stored | None:
    i = d.api_idempotency
    row = conn.execute(
        select(i.c.request_hash, i.c.status_code, i.c.response).where(
            i.c.token_id == token_id, i.c.key == key
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise Conflict(
            f"Idempotency-Key {key!r} was used before with another request; "
            "use a new key for a new request"
        )
    return Stored(int(row.status_code), dict(row.response), replayed=True)


def run_idempotent(
    engine: Engine,
    token_id: int,
    key: str,
    digest: str,
    now: datetime,
    action: Callable[[Connection], tuple[int, dict[str, Any]]],
) -> Stored:
    """Run ``action`` once per (token, key): its effect and the stored answer commit together.

    A repeat with the same request gets the stored answer; with another request, Conflict.
    Two racing first requests: one commits, the other finds its answer and replays it.
    """
    for attempt in range(2):
        try:
            with engine.begin() as conn:
                found = _lookup(conn, token_id, key, digest)
                if found is not None:
                    return found
                status, body = action(conn)
                conn.execute(
                    insert(d.api_idempotency).values(
                        token_id=token_id,
                        key=key,
                        request_hash=digest,
                        status_code=status,
                        response=body,
                        created_at=now,
                    )
                )
                return Stored(status, body, replayed=False)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# --- reads ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountSummary:
    borrower_id: str
    loans: int
    dpd: int
    bucket: str | None
    total_due_minor: int


def account_summaries(
    conn: Connection, actor: Actor, limit: int, offset: int
) -> tuple[list[AccountSummary], int, date | None]:
    """Visible accounts by id with their worst loan and total due at the last cycle; a count."""
    b, s = t.borrowers, t.status_history
    scope = visible_accounts(actor)
    total = conn.execute(select(func.count()).select_from(b).where(scope)).scalar_one()
    ids = [
        r[0]
        for r in conn.execute(
            select(b.c.borrower_id)
            .where(scope)
            .order_by(b.c.borrower_id)
            .limit(limit)
            .offset(offset)
        )
    ]
    as_of = last_cycle_date(conn)
    rows = (
        conn.execute(
            select(s.c.borrower_id, s.c.dpd, s.c.bucket, s.c.total_due_now_minor).where(
                s.c.as_of == as_of, s.c.borrower_id.in_(ids)
            )
        ).all()
        if ids and as_of is not None
        else []
    )
    per: dict[str, list[Any]] = {i: [] for i in ids}
    for r in rows:
        per[r.borrower_id].append(r)
    out = []
    for borrower_id in ids:
        loans = per[borrower_id]
        worst = max(loans, key=lambda r: int(r.dpd), default=None)
        out.append(
            AccountSummary(
                borrower_id,
                len(loans),
                int(worst.dpd) if worst is not None else 0,
                worst.bucket if worst is not None else None,
                sum(int(r.total_due_now_minor) for r in loans),
            )
        )
    return out, int(total), as_of


def loan_account(conn: Connection, actor: Actor, loan_id: str) -> tuple[str, str]:
    """(borrower id, currency) of a loan ``actor`` may read; NotFound otherwise."""
    lo = t.loans
    row = conn.execute(
        select(lo.c.borrower_id, lo.c.currency).where(lo.c.loan_id == loan_id)
    ).first()
    if row is None:
        raise NotFound(f"no loan {loan_id}")
    try:
        check_account(conn, actor, row.borrower_id)
    except NotFound:
        raise NotFound(f"no loan {loan_id}") from None
    return str(row.borrower_id), str(row.currency)


# --- uploaded books -------------------------------------------------------------------------


def _bad(reason: str, name: str | None = None) -> ValidationError:
    return ValidationError([Issue(name or _UPLOAD, None, "file", reason)])


def _member_name(info: zipfile.ZipInfo) -> str | None:
    """The book file a member holds (``borrowers.csv``), None for folders; refuses the unsafe."""
    raw = info.filename
    if info.is_dir():
        return None
    path = PurePosixPath(raw.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in raw:
        raise _bad(f"unsafe path {raw!r} in the archive")
    mode = (info.external_attr >> 16) & 0o170000
    if mode == 0o120000:
        raise _bad(f"{raw!r} is a symbolic link")
    if info.flag_bits & 0x1:
        raise _bad(f"{raw!r} is encrypted")
    if path.name.startswith(".") or "__MACOSX" in path.parts:
        return None
    if len(path.parts) > 2 or path.name not in BOOK_FILES:
        raise _bad(
            f"unexpected file {raw!r}: the archive holds borrowers, contacts, loans, "
            "installments and payments as .csv or .parquet (at the top or in one folder)"
        )
    return path.name


def unpack_book(upload: IO[bytes], target: Path, limit: int = MAX_UNPACKED_BYTES) -> list[str]:
    """Unpack a zipped interchange folder into ``target``; the names of the files written.

    Only the book's own file names are written (flat, never outside ``target``); sizes are
    counted while writing, so a zip bomb stops at ``limit``.
    """
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _bad(f"not a zip archive ({exc})") from None
    written: list[str] = []
    budget = limit
    with archive:
        members = [(info, _member_name(info)) for info in archive.infolist()]
        names = [n for _, n in members if n is not None]
        if len(set(names)) != len(names):
            raise _bad("the archive holds the same file twice")
        if not any(n.startswith(("borrowers.", "loans.")) for n in names):
            raise _bad("the archive holds no borrowers or loans file")
        for info, name in members:
            if name is None:
                continue
            budget = _copy(archive, info, target / name, budget, limit)
            written.append(name)
    return sorted(written)


def _copy(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, budget: int, limit: int
) -> int:
    try:
        with archive.open(info) as src, dest.open("wb") as out:
            while chunk := src.read(1 << 20):
                budget -= len(chunk)
                if budget < 0:
                    raise _bad(f"the book unpacks to more than {limit} bytes")
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError) as exc:
        raise _bad(f"cannot unpack {info.filename!r} ({exc})") from None
    return budget


def import_upload(
    engine: Engine,
    upload: IO[bytes],
    actor: Actor,
    *,
    lender_tz: str,
    clock: ImportClock,
    source: str,
) -> tuple[ImportReport, list[str]]:
    """Unpack an uploaded zip into a private temp folder and import it (all or nothing).

    Returns the report and the names of the book files found in the archive.
    """
    with tempfile.TemporaryDirectory(prefix="arrears-upload-") as tmp:
        folder = Path(tmp) / "book"
        folder.mkdir()
        files = unpack_book(upload, folder)
        report = import_book(engine, folder, lender_tz=lender_tz, clock=clock)
    with engine.begin() as conn:
        record(
            conn,
            actor,
            "import_book",
            "import_run",
            str(report.run_id),
            clock.now(),
            detail={"source": source[:200], "payments_new": report.payments_new},
        )
    return report, files
