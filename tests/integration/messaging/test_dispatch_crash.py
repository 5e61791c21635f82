"""Kill -9 a dispatcher process mid-batch, restart it: every message accepted exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select
from tests.integration.messaging.test_outbox import SECRET, Gateway

from arrears.adapters.db import messaging_tables as mt
from arrears.services.messaging import enqueue

N = 120


def _env(store: Engine, gateway: Gateway) -> dict[str, str]:
    return {
        **os.environ,
        "ARREARS_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ARREARS_SMS_PROVIDER": "http",
        "ARREARS_SMS_URL": gateway.url,
        "ARREARS_SMS_SECRET": SECRET,
    }


def test_a_killed_dispatcher_loses_and_doubles_nothing(store: Engine) -> None:
    gateway = Gateway()
    gateway.delay = 0.02  # a slow provider: the kill lands mid-batch
    try:
        with store.begin() as conn:
            for i in range(N):
                enqueue(
                    conn,
                    key=f"crash:{i}",
                    channel="sms",
                    recipient=f"+86138{i:08d}",
                    locale="zh_CN",
                    template="t",
                    body=f"消息 {i}",
                    now=datetime(2026, 1, 1, tzinfo=UTC),
                )
        arrears = str(Path(sys.executable).with_name("arrears"))
        loop = [arrears, "dispatch", "--batch", "40", "--lease", "2", "--interval", "0.2"]
        first = subprocess.Popen(loop, env=_env(store, gateway))
        deadline = time.monotonic() + 60
        while len(gateway.accepted) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = len(gateway.accepted)
        assert 0 < killed_at < N, "the kill should land mid-run"
        time.sleep(2.5)  # the dead dispatcher's leases run out
        second = subprocess.run(
            [arrears, "dispatch", "--once", "--batch", "1000", "--lease", "2"],
            env=_env(store, gateway),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stderr
        o = mt.outbox_messages
        with store.connect() as conn:
            statuses = [r[0] for r in conn.execute(select(o.c.status))]
        assert statuses == ["sent"] * N
        assert sorted(gateway.accepted) == sorted(f"crash:{i}" for i in range(N))
        resent = len(gateway.requests) - N
        assert resent >= 0  # at most the in-flight ones went out twice; each accepted once
    finally:
        gateway.server.shutdown()
