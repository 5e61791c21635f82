"""Alibaba Cloud SMS (短信服务) ``SendSms``, RPC style, signature version 1.0, as its public
documentation describes: percent-encode every parameter per RFC 3986 (space %20, ``*`` %2A,
``~`` kept), sort by name, join as a query string; StringToSign = METHOD & %2F & the encoded
query; Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).

The template's parameters are JSON (``TemplateParam``); ``OutId`` carries the outbox key so a
resend is recognisable in the provider's records and receipts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from arrears.domain.messages import OutMessage, SendError

__all__ = ["AliyunSmsSender", "signature", "signed_params"]


def _enc(value: str) -> str:
    return quote(value, safe="~")


def signature(params: Mapping[str, str], secret: str, method: str = "POST") -> str:
    query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{_enc('/')}&{_enc(query)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_params(
    params: Mapping[str, str], key_id: str, secret: str, now: datetime, nonce: str
) -> dict[str, str]:
    full = {
        "AccessKeyId": key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2017-05-25",
        **params,
    }
    return {**full, "Signature": signature(full, secret)}


class AliyunSmsSender:
    name = "aliyun"

    def __init__(
        self,
        endpoint: str,
        key_id: str,
        secret: str,
        sign_name: str,
        template_codes: Mapping[str, str],
        clock: Callable[[], datetime],
        timeout: float = 10.0,
    ) -> None:
        self.endpoint, self.key_id, self.secret = endpoint, key_id, secret
        self.sign_name, self.template_codes, self.timeout = sign_name, template_codes, timeout
        self.clock = clock

    def send(self, message: OutMessage) -> str:
        code = self.template_codes.get(message.locale) or self.template_codes.get("default")
        if not code:
            raise SendError(f"no Aliyun template code for {message.locale}", permanent=True)
        params = signed_params(
            {
                "PhoneNumbers": message.recipient.removeprefix("+86"),
                "SignName": self.sign_name,
                "TemplateCode": code,
                "TemplateParam": json.dumps({"text": message.body}, ensure_ascii=False),
                "OutId": message.idempotency_key[:64],
            },
            self.key_id,
            self.secret,
            self.clock(),
            str(uuid.uuid4()),
        )
        try:
            r = httpx.post(self.endpoint, data=params, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise SendError(f"Aliyun SMS: {exc}") from None
        if r.status_code >= 500:
            raise SendError(f"Aliyun SMS: HTTP {r.status_code}")
        try:
            answer = r.json()
        except ValueError:
            raise SendError(f"Aliyun SMS: HTTP {r.status_code}, not JSON") from None
        if answer.get("Code") != "OK":
            transient = answer.get("Code") in {"isv.BUSINESS_LIMIT_CONTROL", "Throttling"}
            raise SendError(
                f"Aliyun SMS: {answer.get('Code')} {answer.get('Message')}", permanent=not transient
            )
        return str(answer.get("BizId"))
