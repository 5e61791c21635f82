"""Importing a book (scope ``book:import``): a zipped interchange folder, all or nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile

from arrears.domain.people import ApiScope
from arrears.services.api_support import import_upload
from arrears.web.api.common import Caller, errors, require_scope
from arrears.web.api.schemas import ImportIssue, ImportOut
from arrears.web.context import web

__all__ = ["MAX_UPLOAD_BYTES", "router"]

router = APIRouter(tags=["imports"])
Importer = Annotated[Caller, Depends(require_scope(ApiScope.IMPORT_BOOK))]
MAX_UPLOAD_BYTES = 512 * 1024**2


@router.post("/imports", status_code=201, responses=errors(400, 413), summary="Import a book (zip)")
def create_import(
    request: Request,
    who: Importer,
    file: Annotated[
        UploadFile,
        File(
            description="a .zip of an interchange folder: borrowers, loans and optionally "
            "contacts, installments, payments, as .csv or .parquet"
        ),
    ],
) -> ImportOut:
    """Validate every row, then load everything in one transaction. Any bad row: 422 listing
    every issue (file, line, field, reason) and nothing is changed. Re-importing is
    idempotent; a payment id seen before is never posted twice."""
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        raise _too_large()
    ctx = web(request)
    report, files = import_upload(
        ctx.engine,
        file.file,
        who.actor,
        lender_tz=ctx.lender_timezone,
        clock=ctx.clock,
        source=f"api upload {file.filename or ''}".strip(),
    )
    return ImportOut(
        run_id=report.run_id,
        files=files,
        borrowers=report.borrowers,
        contacts=report.contacts,
        loans=report.loans,
        installments=report.installments,
        payments_seen=report.payments_seen,
        payments_new=report.payments_new,
        warnings=[
            ImportIssue(file=w.file, line=w.line, field=w.column, reason=w.reason)
            for w in report.warnings
        ],
    )


def _too_large() -> HTTPException:
    return HTTPException(413, f"the upload is larger than {MAX_UPLOAD_BYTES // 1024**2} MB")
