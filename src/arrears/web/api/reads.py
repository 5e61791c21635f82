"""Reading accounts and statuses (scope ``accounts:read``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from arrears.domain.errors import Issue, NotFound, ValidationError
from arrears.domain.people import ApiScope
from arrears.services import desk
from arrears.services.access import fetch_borrower
from arrears.services.api_support import account_summaries, loan_account
from arrears.web.api.common import ID_PATTERN, Caller, errors, money, require_scope
from arrears.web.api.schemas import (
    AccountDetail,
    AccountList,
    AccountSummaryOut,
    BorrowerOut,
    ContactPersonOut,
    LoanOut,
    LoanStatus,
)
from arrears.web.context import client_of, web

__all__ = ["router"]

router = APIRouter(tags=["accounts"])
Reader = Annotated[Caller, Depends(require_scope(ApiScope.READ_ACCOUNTS))]
EARLIEST, LATEST = date(1970, 1, 1), date(2199, 12, 31)


@router.get("/accounts", responses=errors(), summary="Accounts with their standing")
def list_accounts(
    request: Request,
    who: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AccountList:
    """Borrower ids by id, each with its worst DPD and bucket and its total due at the last
    cycle."""
    with web(request).engine.begin() as conn:
        rows, total, as_of = account_summaries(conn, who.actor, limit, offset)
    return AccountList(
        as_of=as_of,
        total=total,
        limit=limit,
        offset=offset,
        items=[
            AccountSummaryOut(
                borrower_id=r.borrower_id,
                loans=r.loans,
                dpd=r.dpd,
                bucket=r.bucket,
                total_due=money(r.total_due_minor),
            )
            for r in rows
        ],
    )


@router.get(
    "/accounts/{borrower_id}", responses=errors(404), summary="An account with live statuses"
)
def get_account(
    request: Request,
    who: Reader,
    borrower_id: Annotated[str, Path(pattern=ID_PATTERN)],
) -> AccountDetail:
    """The borrower (personal data masked; the read is audited) and each loan with its status
    computed live from the ledger as of the lender's today."""
    ctx = web(request)
    today = ctx.clock.today()
    with ctx.engine.begin() as conn:
        b = fetch_borrower(
            conn, who.actor, borrower_id, ctx.clock.now(), purpose="api", client=client_of(request)
        )
        loans = desk.loans_of(conn, borrower_id)
        status = desk.live_status(conn, [lo["loan_id"] for lo in loans], today, ctx.products)
    return AccountDetail(
        as_of=today,
        borrower=BorrowerOut(
            borrower_id=b.borrower_id,
            name=b.name,
            id_number=b.id_number,
            phone=b.phone,
            email=b.email,
            address=b.address,
            city=b.city,
            employer=b.employer,
            assigned_to=b.assigned_to,
            masked=b.masked,
            contacts=[
                ContactPersonOut(
                    contact_id=c.contact_id, name=c.name, relation=c.relation, phone=c.phone
                )
                for c in b.contacts
            ],
        ),
        loans=[
            LoanOut(
                loan_id=lo["loan_id"],
                product=lo["product"],
                currency=lo["currency"],
                principal=money(lo["principal_minor"]),
                annual_rate=str(lo["annual_rate"]),
                term_months=lo["term_months"],
                start_date=lo["start_date"],
                repayment_method=lo["repayment_method"],
                status=(
                    LoanStatus.of(status[lo["loan_id"]], lo["currency"])
                    if lo["loan_id"] in status
                    else None
                ),
            )
            for lo in loans
        ],
    )


@router.get("/loans/{loan_id}/status", responses=errors(404), summary="A loan's live status")
def get_loan_status(
    request: Request,
    who: Reader,
    loan_id: Annotated[str, Path(pattern=ID_PATTERN)],
    as_of: Annotated[
        date | None, Query(description="the lender's business date; default today")
    ] = None,
) -> LoanStatus:
    """The loan's status at ``as_of`` from the ledger as stored now: a payment posted a moment
    ago counts at once."""
    ctx = web(request)
    day = as_of or ctx.clock.today()
    if not EARLIEST <= day <= LATEST:
        raise ValidationError(
            [Issue("request", None, "as_of", f"give a date from {EARLIEST} to {LATEST}")]
        )
    with ctx.engine.begin() as conn:
        _, currency = loan_account(conn, who.actor, loan_id)
        found = desk.live_status(conn, [loan_id], day, ctx.products).get(loan_id)
    if found is None:  # pragma: no cover - the engine answers for every loan it is given
        raise NotFound(f"no status for loan {loan_id} at {day}")
    return LoanStatus.of(found, currency)
