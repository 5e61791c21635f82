"""The dispatcher as real processes on PostgreSQL against a local, slow SMS gateway.

- A dispatcher killed with SIGKILL in the middle of a send (the gateway has accepted the
  message, the dispatcher never records it) is restarted; after the lease ends the message is
  sent again under the same idempotency key and the gateway drops the duplicate. On the wire
  delivery is at least once (the gateway counts the raw requests, one key twice); accepted, it
  is exactly once (every key once).
- Three dispatchers at once never send the same message: raw requests == messages.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from arrears.adapters.clock import SystemClock
from arrears.adapters.db import messaging_tables as mt
from arrears.adapters.db.engine import make_engine, upgrade
from arrears.adapters.senders.http_sms import verify
from arrears.services.messaging import enqueue

SECRET = "process-test-secret"

DISPATCHER = """
import sys, time
from datetime import timedelta
from sqlalchemy import func, select
from arrears.adapters.clock import SystemClock
from arrears.adapters.db import messaging_tables as mt
from arrears.adapters.db.engine import make_engine
from arrears.adapters.senders.http_sms import HttpSmsSender
from arrears.services.messaging import dispatch_batch

url, gateway, secret, lease = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
engine = make_engine(url)
senders = {"sms": HttpSmsSender(gateway, secret, timeout=30)}
o = mt.outbox_messages
sent = 0
while True:
    r = dispatch_batch(engine, senders, SystemClock('UTC').now, batch=5,
                       lease=timedelta(seconds=lease))
    sent += r.sent
    if not (r.sent or r.retried or r.dead):
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count()).select_from(o).where(o.c.status.in_(["queued", "sending"]))
            ).scalar_one()
        if left == 0:
            break
        time.sleep(0.1)
print("done", sent, flush=True)
"""


class SlowGateway:
    """Checks the HMAC signature, counts every request by idempotency key, accepts each key
    once (a repeat gets the first answer). After accepting request number ``stall_at`` it
    stalls before answering, so a dispatcher can be killed mid-send."""

    def __init__(self, delay: float, stall_at: int | None = None) -> None:
        self.raw: list[str] = []
        self.accepted: dict[str, str] = {}
        self.bad_signatures = 0
        self.stalled = threading.Event()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers.get("Idempotency-Key", "")
                with gateway.lock:
                    gateway.raw.append(key)
                    if not verify(SECRET, body, self.headers.get("X-Signature")):
                        gateway.bad_signatures += 1
                        self._answer(401, {"error": "bad signature"})
                        return
                    assert json.loads(body)["key"] == key
                    first = key not in gateway.accepted
                    pid = gateway.accepted.setdefault(key, f"P{len(gateway.accepted) + 1}")
                    stall = first and len(gateway.accepted) == stall_at
                time.sleep(delay)
                if stall:
                    gateway.stalled.set()
                    time.sleep(5)
                self._answer(200, {"id": pid})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the dispatcher was killed while we stalled

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def pg_store(pg_database_url: str) -> Iterator[tuple[str, Engine]]:
    upgrade(pg_database_url)
    engine = make_engine(pg_database_url)
    yield pg_database_url, engine
    engine.dispose()


def _queue(engine: Engine, n: int) -> list[str]:
    now = SystemClock("UTC").now() - timedelta(seconds=1)
    keys = [f"sms:2026-11-28:B{i:05d}:sms_overdue_d" for i in range(n)]
    with engine.begin() as conn:
        for i, key in enumerate(keys):
            enqueue(
                conn,
                key=key,
                channel="sms",
                recipient=f"+86138{i:08d}",
                locale="zh_CN",
                template="sms_overdue_d",
                body=f"【示例银行】您好，您的借款已逾期3天，应还¥{i}.00。",
                now=now,
            )
    return keys


def _start(url: str, gateway: SlowGateway, lease: float) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", DISPATCHER, url, gateway.url, SECRET, str(lease)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> int:
    """Wait for a dispatcher to drain the outbox; how many messages it sent."""
    out, errs = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, errs
    done, sent = out.split()
    assert done == "done"
    return int(sent)


def _by_status(engine: Engine) -> dict[str, int]:
    o = mt.outbox_messages
    with engine.connect() as conn:
        rows = conn.execute(select(o.c.status, func.count()).group_by(o.c.status)).all()
    return {status: n for status, n in rows}


def test_kill_9_mid_batch_then_restart_accepts_every_message_once(
    pg_store: tuple[str, Engine],
) -> None:
    url, engine = pg_store
    keys = _queue(engine, 120)
    gateway = SlowGateway(delay=0.01, stall_at=40)
    try:
        first = _start(url, gateway, lease=3.0)
        assert gateway.stalled.wait(60), "the dispatcher never reached the 40th message"
        first.send_signal(signal.SIGKILL)  # accepted by the gateway, not recorded
        first.wait(10)
        assert first.returncode == -signal.SIGKILL
        assert _by_status(engine).get("sending", 0) >= 1  # held by the dead dispatcher
        second = _start(url, gateway, lease=3.0)
        _finish(second)
    finally:
        gateway.close()
    assert gateway.bad_signatures == 0
    assert sorted(gateway.accepted) == sorted(keys)  # exactly once accepted
    wire = Counter(gateway.raw)
    assert set(wire) == set(keys)
    assert len(gateway.raw) > len(keys)  # at least once on the wire: the killed send repeated
    assert max(wire.values()) == 2
    assert _by_status(engine) == {"sent": 120}
    o = mt.outbox_messages
    with engine.connect() as conn:
        retried = conn.execute(select(o.c.idempotency_key).where(o.c.attempts > 1)).scalars()
        # Re-sent messages are exactly those the dead dispatcher held.
        assert {k for k, n in wire.items() if n == 2} <= set(retried)


def test_three_dispatchers_at_once_never_send_a_message_twice(
    pg_store: tuple[str, Engine],
) -> None:
    url, engine = pg_store
    keys = _queue(engine, 150)
    gateway = SlowGateway(delay=0.02)
    try:
        procs = [_start(url, gateway, lease=120.0) for _ in range(3)]
        sent = [_finish(proc) for proc in procs]
    finally:
        gateway.close()
    assert sum(sent) == 150
    assert sum(1 for n in sent if n) >= 2, sent  # they really ran side by side
    assert len(gateway.raw) == len(keys) == len(set(gateway.raw))  # never twice, even on the wire
    assert sorted(gateway.accepted) == sorted(keys)
    assert _by_status(engine) == {"sent": 150}
