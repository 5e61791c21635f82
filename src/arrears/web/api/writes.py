"""Posting payments (``payments:write``) and call outcomes (``contacts:write``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from arrears.domain.contacts import ContactOutcome
from arrears.domain.errors import Issue, ValidationError
from arrears.domain.people import ApiScope
from arrears.services import desk, promises
from arrears.services.api_support import request_hash, run_idempotent
from arrears.services.payments import check_instant, parse_payment, post_payment
from arrears.web.api.common import Caller, errors, money, require_scope
from arrears.web.api.schemas import ContactIn, ContactOut, LoanStatus, PaymentIn, PaymentOut
from arrears.web.context import web

__all__ = ["router"]

router = APIRouter()
Payer = Annotated[Caller, Depends(require_scope(ApiScope.WRITE_PAYMENTS))]
Dialer = Annotated[Caller, Depends(require_scope(ApiScope.WRITE_CONTACTS))]


async def exact_amount(request: Request) -> Any:
    """``amount`` exactly as written in the JSON body: a number becomes a Decimal of its text,
    never a binary float (``0.1000000000000000055`` stays what it is, and is refused)."""
    try:
        body = json.loads(await request.body(), parse_float=Decimal)
    except ValueError:
        return None  # the body's own validation answers
    return body.get("amount") if isinstance(body, dict) else None


_PAYMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **errors(400, 404, 409),
    200: {"model": PaymentOut, "description": "This payment id was posted before, same values"},
}


@router.post(
    "/payments",
    tags=["payments"],
    status_code=201,
    response_model=PaymentOut,
    responses=_PAYMENT_RESPONSES,
    summary="Post a payment",
)
def create_payment(
    request: Request,
    who: Payer,
    body: PaymentIn,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=128,
            pattern=r"^[!-~]+$",
            description="one key per intended payment; a retry with the same key and body "
            "gets the first answer, another body with it is a conflict (409)",
        ),
    ],
    amount: Annotated[Any, Depends(exact_amount)],
) -> JSONResponse:
    """Store a payment and answer with the loan's status right after it (the status changes
    at once, not at the next cycle). ``paid_on`` is ``paid_at``'s date in the lender's zone.
    A payment id posted again with the same values is the same payment (200); with other
    values, 409."""
    ctx = web(request)
    now = ctx.clock.now()
    fields = body.model_dump()
    fields["amount"] = body.amount if amount is None else amount
    payment = parse_payment(fields, now)
    digest = request_hash(
        {
            "payment_id": payment.payment_id,
            "loan_id": payment.loan_id,
            "paid_at": payment.paid_at.timestamp(),
            "amount_minor": payment.amount_minor,
            "channel": payment.channel,
        }
    )

    def act(conn: Any) -> tuple[int, dict[str, Any]]:
        posted = post_payment(conn, who.actor, payment, now, ctx.lender_timezone)
        day = max(ctx.clock.today(), posted.paid_on)
        statuses = desk.status_after_payment(conn, posted.borrower_id, day, ctx.products)
        status = statuses[posted.loan_id]
        out = PaymentOut(
            payment_id=posted.payment_id,
            loan_id=posted.loan_id,
            borrower_id=posted.borrower_id,
            paid_at=posted.paid_at,
            paid_on=posted.paid_on,
            amount=money(posted.amount_minor),
            currency=posted.currency,
            channel=posted.channel,
            created=posted.created,
            status=LoanStatus.of(status, posted.currency),
        )
        return (201 if posted.created else 200), out.model_dump(mode="json")

    stored = run_idempotent(ctx.engine, who.token_id, idempotency_key, digest, now, act)
    headers = {"Idempotent-Replayed": "true"} if stored.replayed else None
    return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)


_CONTACT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **errors(400, 404),
    200: {"model": ContactOut, "description": "This external_id was recorded before"},
}


@router.post(
    "/contacts",
    tags=["contacts"],
    status_code=201,
    response_model=ContactOut,
    responses=_CONTACT_RESPONSES,
    summary="Record a call outcome",
)
def create_contact(request: Request, who: Dialer, body: ContactIn) -> JSONResponse:
    """A dialer's call outcome for an account. ``external_id`` (the call id) makes it
    idempotent: posting it again answers 200 with the attempt recorded the first time."""
    ctx = web(request)
    now = ctx.clock.now()
    try:
        at = check_instant(body.at, "at", now)
    except ValueError as exc:
        raise ValidationError([Issue("request", None, "at", str(exc))]) from None
    contact = desk.ContactInput(
        outcome=body.outcome,
        channel=body.channel,
        right_party=body.right_party,
        reason=body.reason,
        next_action_on=body.next_action_on,
        remark=body.remark,
        loan_id=body.loan_id,
        at=at,
        external_id=body.external_id,
    )
    if body.promise is not None and body.outcome is not ContactOutcome.PROMISE_TO_PAY:
        raise ValidationError(
            [Issue("request", None, "promise", "a promise needs the outcome promise_to_pay")]
        )
    promise_id = None
    with ctx.engine.begin() as conn:
        attempt_id, created = desk.log_contact(conn, who.actor, body.borrower_id, contact, now)
        if created and body.promise is not None:
            promise = promises.PromiseInput(
                tuple((i.due_on, Decimal(i.amount)) for i in body.promise.items),
                channel=body.channel,
                promised_by=body.promise.promised_by,
                loan_id=body.loan_id,
                attempt_id=attempt_id,
            )
            promise_id = promises.record_promise(
                conn, who.actor, body.borrower_id, promise, now, ctx.clock.today(), ctx.products
            )
    out = ContactOut(
        attempt_id=attempt_id,
        created=created,
        borrower_id=body.borrower_id,
        external_id=body.external_id,
        promise_id=promise_id,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)
