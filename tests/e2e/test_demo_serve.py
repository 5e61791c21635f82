"""``arrears demo`` ends by serving the app; ``arrears serve`` serves an existing store.

Real processes on a free port: the demo users can log in with the password given.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[str], seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"server exited with {proc.returncode}:\n{out[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {seconds} s")


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ARREARS_DATABASE_URL", None)
    env.update(
        ARREARS_DATA_DIR=str(tmp_path / "var"),
        ARREARS_PORT=str(port),
        ARREARS_COOKIE_SECURE="false",  # httpx, unlike browsers, keeps Secure cookies off http
    )
    return env


def _log_in(base: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token.group(1)}
    )
    assert r.status_code == 303, r.text[:500]
    return client


def test_demo_then_serve(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path, port)
    demo = subprocess.Popen(
        [sys.executable, "-m", "arrears", "demo", "--borrowers", "30", "--password", "s3cret-demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/healthz", demo, 180)
        collector = _log_in(base, "collector1", "s3cret-demo")
        queue = collector.get("/queue")
        assert queue.status_code == 200
        assert "工作队列" in queue.text
        assert re.search(r'href="/accounts/[^"]+"', queue.text)
        manager = _log_in(base, "manager", "s3cret-demo")
        assert manager.get("/queue").status_code == 403
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    # The same store, served again by ``arrears serve``; a generated password is printed.
    port2 = _free_port()
    out = subprocess.run(
        [sys.executable, "-m", "arrears", "demo", "--borrowers", "30", "--no-serve"],
        env=_env(tmp_path, port2),
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"password of every demo user: (\S+)", out.stdout)
    assert found, out.stdout[-2000:]
    serve = subprocess.Popen(
        [sys.executable, "-m", "arrears", "serve"],
        env=_env(tmp_path, port2),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base2 = f"http://127.0.0.1:{port2}"
        _wait(f"{base2}/healthz", serve, 60)
        client = _log_in(base2, "compliance", found.group(1))
        assert client.get("/").headers.get("location", "/audit") == "/audit"
        with pytest.raises(AssertionError):
            _log_in(base2, "compliance", "s3cret-demo")  # the old password no longer works
    finally:
        serve.terminate()
        serve.wait(timeout=30)
