"""Alibaba Cloud SMS ``SendSms`` against a local HTTP server that checks the request the way
the documentation describes: it recomputes the RPC signature (RFC 3986 encoding, sorted
parameters, "POST&%2F&" + encoded query, HMAC-SHA1 with secret + "&", base64) with its own
code, refuses a reused SignatureNonce, and records OutId (the outbox key) of every request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
from sqlalchemy import Engine, select

from arrears.adapters.db import messaging_tables as mt
from arrears.adapters.senders.aliyun_sms import AliyunSmsSender
from arrears.domain.messages import OutMessage, SendError
from arrears.services.messaging import dispatch_batch, enqueue

KEY_ID, SECRET = "LTAI-test-id", "test-access-key-secret"
T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _rfc3986(value: str) -> str:
    return quote(value.encode("utf-8"), safe="-_.~")


def expected_signature(params: dict[str, str], secret: str) -> str:
    canonical = "&".join(
        f"{_rfc3986(k)}={_rfc3986(params[k])}" for k in sorted(params) if k != "Signature"
    )
    to_sign = "POST&" + _rfc3986("/") + "&" + _rfc3986(canonical)
    mac = hmac.new((secret + "&").encode(), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


class AliyunStub:
    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.nonces: set[str] = set()
        self.biz_ids: dict[str, str] = {}  # OutId → BizId
        self.answers: list[dict[str, str]] = []  # canned answers before the normal one
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
                params = dict(parse_qsl(raw, keep_blank_values=True))
                with stub.lock:
                    stub.requests.append(params)
                    answer = stub._check(params)
                self._answer(200 if answer["Code"] == "OK" else 400, answer)

            def _answer(self, status: int, payload: dict[str, str]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def _check(self, p: dict[str, str]) -> dict[str, str]:
        if p.get("Signature") != expected_signature(p, SECRET):
            return {"Code": "SignatureDoesNotMatch", "Message": "bad signature"}
        fixed = {
            "AccessKeyId": KEY_ID,
            "Action": "SendSms",
            "Format": "JSON",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "Version": "2017-05-25",
        }
        if any(p.get(k) != v for k, v in fixed.items()):
            return {"Code": "InvalidParameter", "Message": "fixed parameter"}
        datetime.strptime(p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")  # noqa: DTZ007 - UTC "Z"
        if p["SignatureNonce"] in self.nonces:
            return {"Code": "SignatureNonceUsed", "Message": "replay"}
        self.nonces.add(p["SignatureNonce"])
        if self.answers:
            return self.answers.pop(0)
        biz = self.biz_ids.setdefault(p["OutId"], f"BIZ{len(self.biz_ids) + 1:04d}")
        return {"Code": "OK", "Message": "OK", "BizId": biz, "RequestId": "R"}


@pytest.fixture
def stub() -> Iterator[AliyunStub]:
    s = AliyunStub()
    yield s
    s.server.shutdown()


def _sender(url: str, secret: str = SECRET) -> AliyunSmsSender:
    return AliyunSmsSender(
        url, KEY_ID, secret, "示例银行", {"zh_CN": "SMS_123456", "default": "SMS_1"}, lambda: T0
    )


def _message(key: str = "sms:2026-11-28:B00001:sms_overdue_d") -> OutMessage:
    return OutMessage(
        1, key, "sms", "+8613800000001", "zh_CN", None, "您的借款已逾期3天，应还¥1,234.56。", 1
    )


def test_send_sms_is_signed_as_documented(stub: AliyunStub) -> None:
    biz = _sender(stub.url).send(_message())
    assert biz == "BIZ0001"
    [req] = stub.requests
    assert req["PhoneNumbers"] == "13800000001"
    assert req["SignName"] == "示例银行"
    assert req["TemplateCode"] == "SMS_123456"
    assert json.loads(req["TemplateParam"]) == {"text": "您的借款已逾期3天，应还¥1,234.56。"}
    assert req["OutId"] == "sms:2026-11-28:B00001:sms_overdue_d"
    assert req["Timestamp"] == "2026-11-28T02:00:00Z"


def test_a_wrong_secret_is_refused_for_good(stub: AliyunStub) -> None:
    with pytest.raises(SendError) as caught:
        _sender(stub.url, secret="wrong").send(_message())
    assert caught.value.permanent and "SignatureDoesNotMatch" in str(caught.value)


def test_throttling_is_retried_then_sent_once(store: Engine, stub: AliyunStub) -> None:
    with store.begin() as conn:
        for i in range(3):
            enqueue(
                conn,
                key=f"sms:2026-11-28:B{i:05d}:sms_overdue_d",
                channel="sms",
                recipient=f"+86138000000{i:02d}",
                locale="zh_CN",
                template="sms_overdue_d",
                body="您的借款已逾期3天。",
                now=T0,
            )
    stub.answers = [{"Code": "Throttling", "Message": "slow down"}]
    now = [T0]
    senders = {"sms": _sender(stub.url)}
    first = dispatch_batch(store, senders, lambda: now[0])
    assert (first.sent, first.retried, first.dead) == (2, 1, 0)
    now[0] += timedelta(minutes=1)
    assert dispatch_batch(store, senders, lambda: now[0]).sent == 1
    o = mt.outbox_messages
    with store.connect() as conn:
        rows = conn.execute(select(o.c.status, o.c.provider, o.c.provider_message_id)).all()
    assert {r.status for r in rows} == {"sent"} and {r.provider for r in rows} == {"aliyun"}
    assert sorted(r.provider_message_id for r in rows) == ["BIZ0001", "BIZ0002", "BIZ0003"]
    assert len(stub.requests) == 4 and len(stub.nonces) == 4  # a fresh nonce every request
