"""Browser fixtures: the app served by uvicorn on a free port, and Chromium through Playwright.

``live_server`` (session, once per backend through ``desk_engine``): the base URL of the app
from ``make_web(desk_engine)``, served in a background thread. ``browser`` (session): one
Chromium for the whole run (the Debian package, ``/usr/bin/chromium``). ``new_page``: a
factory of pages, each in a fresh context (zh-CN, 1366x900); ``page``: the first of them.
``shoot(page, name)`` saves ``test-artifacts/screenshots/<backend>-<name>.png``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[3]
SHOTS = REPO / "test-artifacts" / "screenshots"
TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Live:
    url: str
    backend: str  # "sqlite" or "postgresql"
    engine: Engine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(desk_engine: Engine) -> Iterator[Live]:
    """The desk app over ``desk_engine``, served by uvicorn in a thread until the session ends."""
    import uvicorn

    from fixtures.web import make_web

    port = _free_port()
    config = uvicorn.Config(make_web(desk_engine), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail(f"the app did not answer on {url}/healthz")
        time.sleep(0.05)
    try:
        yield Live(url, desk_engine.dialect.name, desk_engine)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (see STACK.md)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def new_page(
    browser: Any, live_server: Live, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Any]]:
    """Pages in fresh contexts (no shared cookies); a failing test leaves a screenshot of each."""
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(
            base_url=live_server.url, locale="zh-CN", viewport={"width": 1366, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    failed = request.node.stash.get(_FAILED, False)
    for n, context in enumerate(contexts):
        if failed:
            for page in context.pages:
                safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
                shoot_to(page, f"{live_server.backend}-FAILED-{safe}-{n}")
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()


def shoot_to(page: Any, stem: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{stem}.png"), full_page=True)


@pytest.fixture
def shoot(live_server: Live) -> Callable[[Any, str], None]:
    """``shoot(page, "queue")`` → ``test-artifacts/screenshots/<backend>-queue.png``."""

    def take(page: Any, name: str) -> None:
        shoot_to(page, f"{live_server.backend}-{name}")

    return take
