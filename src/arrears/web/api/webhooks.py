"""Delivery receipts from the SMS gateway: ``POST /api/v1/webhooks/sms``.

The gateway signs the raw body like our requests to it (``X-Signature``: hex HMAC-SHA256 with
the shared secret ``ARREARS_SMS_SECRET``); a missing or wrong signature is 401 and changes
nothing. Body: ``{"id": provider message id, "status": "delivered" | "failed", "at": ISO}``.
A repeated receipt answers 200 with ``"applied": false``.
"""

from __future__ import annotations

import json
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from arrears.domain.errors import AuthenticationError, Issue, ValidationError
from arrears.services.messaging import apply_receipt, verify_signature
from arrears.web.api.common import errors
from arrears.web.context import web

__all__ = ["router"]

router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/sms",
    summary="A delivery receipt from the SMS gateway (HMAC-signed)",
    responses=errors(400),
)
async def sms_receipt(request: Request) -> JSONResponse:
    ctx = web(request)
    body = await request.body()
    if not ctx.sms_secret or not verify_signature(
        ctx.sms_secret, body, request.headers.get("X-Signature")
    ):
        raise AuthenticationError("the receipt is not signed with the gateway's secret")
    try:
        data = json.loads(body)
        provider_id = str(data["id"])
        delivered = {"delivered": True, "failed": False}[data["status"]]
        at = datetime.fromisoformat(str(data["at"]))
        if at.tzinfo is None:
            raise ValueError("at needs an offset")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            [Issue("receipt", None, None, f"expected id, status and at: {exc}")]
        ) from None
    with ctx.engine.begin() as conn:
        applied = apply_receipt(conn, "http", provider_id, delivered, at)
    return JSONResponse({"applied": applied})
