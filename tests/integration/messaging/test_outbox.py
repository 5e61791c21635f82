"""The outbox against real parts: an SMTP server (aiosmtpd) and a local HTTP SMS gateway that
checks signatures and de-duplicates by idempotency key; SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select

from arrears.adapters.db import messaging_tables as mt
from arrears.adapters.senders.http_sms import HttpSmsSender, verify
from arrears.adapters.senders.smtp import SmtpSender
from arrears.services.messaging import apply_receipt, dispatch_batch, enqueue

SECRET = "test-shared-secret"
T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


class Gateway:
    """A local SMS provider: checks the signature, accepts each key once, can fail on cue."""

    def __init__(self) -> None:
        self.requests: list[str] = []  # keys, every request that reached it
        self.accepted: dict[str, str] = {}  # key → provider id
        self.fail_next: list[int] = []  # HTTP statuses to answer before succeeding
        self.delay = 0.0  # seconds each request takes
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if gateway.delay:
                    time.sleep(gateway.delay)
                key = self.headers.get("Idempotency-Key", "")
                with gateway.lock:
                    gateway.requests.append(key)
                    if not verify(SECRET, body, self.headers.get("X-Signature")):
                        return self._answer(401, {"error": "bad signature"})
                    if gateway.fail_next:
                        return self._answer(gateway.fail_next.pop(0), {"error": "down"})
                    data = json.loads(body)
                    assert data["key"] == key
                    known = gateway.accepted.setdefault(key, f"P{len(gateway.accepted) + 1}")
                return self._answer(200, {"id": known})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    g = Gateway()
    yield g
    g.server.shutdown()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _queue_sms(store: Engine, n: int, prefix: str = "sms") -> None:
    with store.begin() as conn:
        for i in range(n):
            enqueue(
                conn,
                key=f"{prefix}:{i}",
                channel="sms",
                recipient=f"+861380000{i:04d}",
                locale="zh_CN",
                template="sms_due_today",
                body=f"【测试银行】您好，今天是您的还款日，应还¥{i}.00。",
                now=T0,
            )


def _statuses(store: Engine) -> dict[str, str]:
    o = mt.outbox_messages
    with store.connect() as conn:
        return {k: s for k, s in conn.execute(select(o.c.idempotency_key, o.c.status))}


def test_sms_sent_once_with_retries_and_dead_letters(store: Engine, gateway: Gateway) -> None:
    _queue_sms(store, 3)
    with store.begin() as conn:  # the same key again is a no-op
        assert (
            enqueue(
                conn,
                key="sms:0",
                channel="sms",
                recipient="x",
                locale="en",
                template="t",
                body="b",
                now=T0,
            )
            is None
        )
    clock = Clock()
    senders = {"sms": HttpSmsSender(gateway.url, SECRET)}
    gateway.fail_next = [503]
    first = dispatch_batch(store, senders, clock)
    assert (first.sent, first.retried, first.dead) == (2, 1, 0)
    assert dispatch_batch(store, senders, clock).sent == 0  # the retry waits its backoff
    clock.now += timedelta(minutes=1)
    assert dispatch_batch(store, senders, clock).sent == 1
    assert set(_statuses(store).values()) == {"sent"}
    assert sorted(gateway.accepted) == ["sms:0", "sms:1", "sms:2"]
    # A refusal (4xx) is final: dead, with the reason.
    _queue_sms(store, 1, prefix="bad")
    gateway.fail_next = [400]
    assert dispatch_batch(store, senders, clock).dead == 1
    o = mt.outbox_messages
    with store.connect() as conn:
        error = conn.execute(
            select(o.c.last_error).where(o.c.idempotency_key == "bad:0")
        ).scalar_one()
    assert "HTTP 400" in error and _statuses(store)["bad:0"] == "dead"


def test_a_crashed_dispatcher_is_resent_under_the_same_key(store: Engine, gateway: Gateway) -> None:
    """The provider got the message but the dispatcher died before recording it: after the
    lease the message is claimed again and resent with the same key; the provider keeps one."""
    _queue_sms(store, 2)
    clock = Clock()

    class Crashing(HttpSmsSender):
        def send(self, message: Any) -> str:
            super().send(message)
            raise SystemExit("killed after the provider accepted")

    with pytest.raises(SystemExit):
        dispatch_batch(store, {"sms": Crashing(gateway.url, SECRET)}, clock)
    assert _statuses(store) == {"sms:0": "sending", "sms:1": "sending"}
    senders = {"sms": HttpSmsSender(gateway.url, SECRET)}
    assert dispatch_batch(store, senders, clock).sent == 0  # still leased
    clock.now += timedelta(minutes=6)
    assert dispatch_batch(store, senders, clock).sent == 2
    assert gateway.requests.count("sms:0") == 2  # at least once on the wire
    assert list(gateway.accepted) == ["sms:0", "sms:1"]  # once accepted
    with store.begin() as conn:  # the delivery receipt arrives (twice): applied once
        pid = gateway.accepted["sms:0"]
        assert apply_receipt(conn, "http", pid, True, clock.now) is True
        assert apply_receipt(conn, "http", pid, True, clock.now) is False
    assert _statuses(store)["sms:0"] == "delivered"


def test_two_dispatchers_never_send_the_same_message(store: Engine, gateway: Gateway) -> None:
    _queue_sms(store, 60)
    clock = Clock()
    senders = {"sms": HttpSmsSender(gateway.url, SECRET)}
    errors: list[BaseException] = []

    def run() -> None:
        try:
            while dispatch_batch(store, senders, clock, batch=7).sent:
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(gateway.requests) == 60 == len(set(gateway.requests))
    assert set(_statuses(store).values()) == {"sent"}


def test_email_over_smtp_with_a_chinese_subject(store: Engine) -> None:
    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.content)
            return "250 OK"

    with socket.socket() as probe:  # a free port (this aiosmtpd cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with store.begin() as conn:
            enqueue(
                conn,
                key="email:1",
                channel="email",
                recipient="zhang.wei@example.com",
                locale="zh_CN",
                template="email_overdue",
                subject="还款提醒：您的借款已逾期",
                body="张伟您好，您的借款已逾期 5 天，应还 ¥1,234.56。",
                now=T0,
            )
        sender = SmtpSender("127.0.0.1", port, "collections@bank.example")
        assert dispatch_batch(store, {"email": sender}, Clock()).sent == 1
    finally:
        controller.stop()
    [raw] = received
    mail = message_from_bytes(raw)
    assert str(make_header(decode_header(mail["Subject"]))) == "还款提醒：您的借款已逾期"
    assert "¥1,234.56" in mail.get_payload(decode=True).decode("utf-8")
    assert mail["Message-ID"] == sender.message_id("email:1")


def test_signed_receipts_through_the_webhook(store: Engine, gateway: Gateway) -> None:
    from fastapi.testclient import TestClient

    from arrears.adapters.senders.http_sms import sign
    from arrears.web.app import create_app
    from arrears.web.context import WebContext
    from fixtures.web import FixedClock

    _queue_sms(store, 1)
    dispatch_batch(store, {"sms": HttpSmsSender(gateway.url, SECRET)}, Clock())
    pid = gateway.accepted["sms:0"]
    app = create_app(
        WebContext(
            engine=store,
            clock=FixedClock(),
            default_locale="en",
            lender_timezone="Asia/Shanghai",
            cookie_secure=True,
            sms_secret=SECRET,
        )
    )
    client = TestClient(app, base_url="https://testserver")
    body = json.dumps({"id": pid, "status": "delivered", "at": "2026-11-28T10:01:00+08:00"})
    forged = client.post(
        "/api/v1/webhooks/sms", content=body, headers={"X-Signature": sign("wrong", body.encode())}
    )
    assert forged.status_code == 401
    assert _statuses(store)["sms:0"] == "sent"
    good = {"X-Signature": sign(SECRET, body.encode()), "Content-Type": "application/json"}
    first = client.post("/api/v1/webhooks/sms", content=body, headers=good)
    assert first.status_code == 200 and first.json() == {"applied": True}
    assert _statuses(store)["sms:0"] == "delivered"
    repeat = client.post("/api/v1/webhooks/sms", content=body, headers=good)
    assert repeat.json() == {"applied": False}
    bad = b'{"id": "x"}'
    assert (
        client.post(
            "/api/v1/webhooks/sms", content=bad, headers={"X-Signature": sign(SECRET, bad)}
        ).status_code
        == 422
    )


def test_a_channel_without_a_provider_stays_queued(store: Engine, gateway: Gateway) -> None:
    _queue_sms(store, 2)
    assert dispatch_batch(store, {}, Clock()) == dispatch_batch(store, {"email": object()}, Clock())  # type: ignore[dict-item]
    assert set(_statuses(store).values()) == {"queued"}
    assert dispatch_batch(store, {"sms": HttpSmsSender(gateway.url, SECRET)}, Clock()).sent == 2
