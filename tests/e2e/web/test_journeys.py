"""User journeys through the collections desk in a real browser (Chromium), on both backends.

The app runs under uvicorn on http://127.0.0.1 with ``cookie_secure=True``: Chromium treats
loopback as a secure context and keeps the Secure session cookie, which the log-in checks.
Screenshots of the key pages go to ``test-artifacts/screenshots/<backend>-<name>.png``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select, update

from arrears.adapters.db import desk_tables as d
from arrears.web.context import SESSION_COOKIE
from arrears.web.i18n import lang_for
from fixtures.web import DEMO_PASSWORD

HOMES = {
    "collector1": ("/queue", "collector"),
    "collector2": ("/queue", "collector"),
    "field1": ("/queue", "field_agent"),
    "manager": ("/portfolio", "manager"),
    "compliance": ("/audit", "compliance"),
    "admin": ("/admin/users", "admin"),
}
ZH = lang_for("zh_CN", "zh_CN", "Asia/Shanghai")


def path_of(page: Any) -> str:
    return str(urlparse(page.url).path)


def log_in(page: Any, username: str, password: str = DEMO_PASSWORD) -> Any:
    """Fill in the log-in form; returns the response of the page it lands on."""
    if path_of(page) != "/login":
        page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation() as nav:
        page.click("#login")
    return nav.value


def session_cookie(page: Any) -> dict[str, Any] | None:
    return next((c for c in page.context.cookies() if c["name"] == SESSION_COOKIE), None)


def queue_ids(page: Any) -> list[str]:
    hrefs = page.locator("#queue a[href^='/accounts/']").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    return [h.removeprefix("/accounts/") for h in hrefs]


def dpd_column(page: Any) -> list[int]:
    values = page.locator("#queue tr[data-dpd]").evaluate_all("els => els.map(e => e.dataset.dpd)")
    return [int(v) for v in values]


@pytest.mark.parametrize("username", list(HOMES))
def test_each_demo_user_lands_on_their_home(page: Any, username: str) -> None:
    home, role = HOMES[username]
    landed = log_in(page, username)
    assert path_of(page) == home
    assert landed is not None
    assert landed.status == 200, f"{home} answered {landed.status}"
    assert page.locator(f"header span.who[data-role={role}]").count() == 1
    cookie = session_cookie(page)
    assert cookie is not None, "Chromium dropped the Secure session cookie on http://127.0.0.1"
    assert cookie["secure"] and cookie["httpOnly"]


def test_wrong_password_shows_the_error(page: Any, shoot: Callable[[Any, str], None]) -> None:
    page.goto("/login")
    shoot(page, "login")
    landed = log_in(page, "collector2", "not-the-password")
    assert landed.status == 401
    assert path_of(page) == "/login"
    assert page.locator("p.error[role=alert]").inner_text() == "用户名或密码错误。"
    assert session_cookie(page) is None
    assert page.locator("span.who").count() == 0


def test_collector_works_the_queue_and_an_account(
    page: Any, shoot: Callable[[Any, str], None]
) -> None:
    log_in(page, "collector1")
    assert path_of(page) == "/queue"
    assert page.locator("h1").inner_text() == "工作队列"

    # Sort by DPD: the column flips with each click on its header.
    page.click("a[data-sort=dpd]")
    page.wait_for_load_state()
    first = dpd_column(page)
    page.click("a[data-sort=dpd]")
    page.wait_for_load_state()
    second = dpd_column(page)
    assert urlparse(page.url).query == "sort=dpd&dir=desc"
    assert len(second) > 1 and max(second) > 0
    assert first == sorted(first), "the first click should sort ascending (default is desc)"
    assert second == sorted(first, reverse=True)
    assert first != second, "the DPD order did not flip"

    # Back to the default order (most overdue first) and open the top account.
    page.goto("/queue?sort=dpd&dir=desc")
    assert dpd_column(page) == sorted(dpd_column(page), reverse=True)
    shoot(page, "queue")
    account = queue_ids(page)[0]
    page.click(f"#queue a[href='/accounts/{account}']")
    page.wait_for_url(f"**/accounts/{account}")
    assert re.fullmatch(r"\d{3}\*{4}\d{4}", page.locator("#borrower-phone").inner_text().strip())
    assert "*" in page.locator("#borrower-name").inner_text()

    # The DPD chart: an inline SVG with a drawn series.
    chart = page.locator("#history svg.chart")
    assert chart.count() == 1
    assert chart.locator("path.series").count() == 1
    assert (chart.locator("path.series").get_attribute("d") or "").startswith("M")
    assert chart.bounding_box()["width"] > 100

    # A note in Chinese, shown after the redirect back to the account.
    note = f"借款人承诺月底前还款，核对编号 {uuid.uuid4().hex[:8]}"
    page.fill("#note-form textarea[name=body]", note)
    with page.expect_navigation():
        page.click("#add-note")
    assert path_of(page) == f"/accounts/{account}"
    assert page.locator("#note-list li p").first.inner_text() == note
    assert "collector1" in page.locator("#note-list li").first.inner_text()

    # A contact attempt: promise to pay, right party, next action in a week.
    next_on = date(2026, 12, 5)
    page.select_option("#contact-form select[name=outcome]", "promise_to_pay")
    page.check("#contact-form input[name=right_party]")
    page.select_option("#contact-form select[name=reason]", index=1)
    page.fill("#contact-form input[name=next_action_on]", next_on.isoformat())
    with page.expect_navigation():
        page.click("#log-contact")
    assert path_of(page) == f"/accounts/{account}"
    assert page.locator("#form-errors").count() == 0
    cells = page.locator("#contact-list tbody tr").first.locator("td").all_inner_texts()
    assert cells[2] == "承诺还款"
    assert cells[3] == "是"
    assert cells[4], "the reason for delinquency is missing"
    assert cells[5] == ZH.date(next_on)
    assert cells[6] == "collector1"
    shoot(page, "account-masked")

    # Show personal data with a reason: the full +86 number and the audit notice.
    page.fill("form.unmask input[name=reason]", "核实借款人身份")
    with page.expect_navigation() as nav:
        page.click("#unmask")
    assert nav.value.status == 200
    assert re.fullmatch(r"\+86\d{11}", page.locator("#borrower-phone").inner_text().strip())
    assert "*" not in page.locator("#borrower-id-number").inner_text()
    notice = page.locator("#unmasked-notice")
    assert notice.is_visible()
    assert notice.inner_text() == "个人信息仅在本次页面中显示，已记入审计日志。"
    shoot(page, "account-unmasked")

    # Reloading the account (a GET) masks again: the unmasking was for that view only.
    page.goto(f"/accounts/{account}")
    assert re.fullmatch(r"\d{3}\*{4}\d{4}", page.locator("#borrower-phone").inner_text().strip())


@pytest.fixture
def restore_locale(live_server: Any) -> Iterator[str]:
    """The language test's user gets its stored locale back, even if the test fails midway."""
    username = "collector2"
    users = d.users
    with live_server.engine.begin() as conn:
        before = conn.execute(
            select(users.c.locale).where(users.c.username == username)
        ).scalar_one()
    yield username
    with live_server.engine.begin() as conn:
        conn.execute(update(users).where(users.c.username == username).values(locale=before))


def test_language_switch_survives_logging_out_and_in(
    new_page: Callable[[], Any], restore_locale: str, shoot: Callable[[Any, str], None]
) -> None:
    username = restore_locale
    page = new_page()
    log_in(page, username)
    assert page.locator("h1").inner_text() == "工作队列"

    with page.expect_navigation():
        page.click("button[data-locale=en]")
    assert path_of(page) == "/queue"
    assert page.locator("h1").inner_text() == "Work queue"
    assert page.locator("html").get_attribute("lang", timeout=1000).startswith("en")
    shoot(page, "queue-en")

    with page.expect_navigation():
        page.click("#logout")
    assert path_of(page) == "/login"
    log_in(page, username)
    assert page.locator("h1").inner_text() == "Work queue"

    # Stored on the user, not only in this browser's cookie: a fresh browser sees English too.
    other = new_page()
    log_in(other, username)
    assert other.locator("h1").inner_text() == "Work queue"

    with page.expect_navigation():
        page.click("button[data-locale=zh_CN]")
    assert page.locator("h1").inner_text() == "工作队列"
    with page.expect_navigation():
        page.click("#logout")
    log_in(page, username)
    assert page.locator("h1").inner_text() == "工作队列"


def test_collector_cannot_open_another_collectors_account(new_page: Callable[[], Any]) -> None:
    theirs_page = new_page()
    log_in(theirs_page, "collector2")
    theirs = queue_ids(theirs_page)
    assert theirs, "collector2 has no accounts in the demo book"

    page = new_page()
    log_in(page, "collector1")
    mine = set(queue_ids(page))
    account = next(a for a in theirs if a not in mine)
    response = page.goto(f"/accounts/{account}")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "404"
    assert "未找到，或您无权查看。" in page.locator("main").inner_text()
    assert page.locator("#borrower-phone").count() == 0


def test_log_out_ends_the_session(page: Any) -> None:
    log_in(page, "field1")
    assert path_of(page) == "/queue"
    with page.expect_navigation():
        page.click("#logout")
    assert path_of(page) == "/login"
    assert session_cookie(page) is None
    page.goto("/queue")
    assert path_of(page) == "/login"
    assert parse_qs(urlparse(page.url).query) == {"next": ["/queue"]}
    assert page.locator("span.who").count() == 0
