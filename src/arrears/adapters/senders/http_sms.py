"""A generic HTTP SMS gateway: POST JSON ``{"to", "text", "key"}`` with the headers
``Idempotency-Key`` and ``X-Signature`` (hex HMAC-SHA256 of the body with the shared secret);
the answer is JSON with the provider's ``id``. 5xx and network errors are retried; 4xx are
not. Delivery receipts come back signed the same way (``verify``)."""

from __future__ import annotations

import json

import httpx

from arrears.domain.messages import OutMessage, SendError, sign, verify

__all__ = ["HttpSmsSender", "sign", "verify"]


class HttpSmsSender:
    name = "http"

    def __init__(self, url: str, secret: str, timeout: float = 10.0) -> None:
        self.url, self.secret, self.timeout = url, secret, timeout

    def send(self, message: OutMessage) -> str:
        body = json.dumps(
            {"to": message.recipient, "text": message.body, "key": message.idempotency_key},
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.idempotency_key,
            "X-Signature": sign(self.secret, body),
        }
        try:
            r = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise SendError(f"SMS gateway: {exc}") from None
        if r.status_code >= 500:
            raise SendError(f"SMS gateway: HTTP {r.status_code}")
        if r.status_code >= 400:
            raise SendError(f"SMS gateway refused: HTTP {r.status_code} {r.text[:200]}", True)
        try:
            return str(r.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise SendError("SMS gateway: no message id in the answer") from None
