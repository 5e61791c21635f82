"""Journeys of the staff roles in a real browser (Chromium), on both backends: the manager's
portfolio and assignments, the compliance officer's audit log, the administrator's users,
teams and API tokens.

Same fixtures as ``test_journeys.py`` (``conftest.py``: the app under uvicorn, one Chromium,
pages in fresh zh-CN contexts). Screenshots go to
``test-artifacts/screenshots/<backend>-<name>.png``. The store is shared by the session:
the assignment journey puts the assignments back; users, teams and tokens get unique names.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import Engine, func, select, text

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.web.pages.audit import PAGE_SIZE
from fixtures.web import DEMO_PASSWORD

Shoot = Callable[[Any, str], None]


def path_of(page: Any) -> str:
    return str(urlparse(page.url).path)


def log_in(page: Any, username: str, password: str = DEMO_PASSWORD) -> Any:
    """Fill in the log-in form; the response of the page it lands on."""
    if path_of(page) != "/login":
        page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation() as nav:
        page.click("#login")
    return nav.value


def submit(page: Any, selector: str) -> Any:
    """Click a submit button; the response of the page the form lands on."""
    with page.expect_navigation() as nav:
        page.click(selector)
    return nav.value


def _owners(engine: Engine) -> dict[str, str]:
    a, u = d.account_assignments, d.users
    with engine.connect() as conn:
        rows = conn.execute(
            select(a.c.borrower_id, u.c.username).join(u, u.c.user_id == a.c.user_id)
        ).all()
    return {str(b): str(name) for b, name in rows}


def _user_id(engine: Engine, username: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(d.users.c.user_id).where(d.users.c.username == username)
            ).scalar_one()
        )


@pytest.fixture
def restore_assignments(live_server: Any) -> Iterator[Engine]:
    """The shared store's assignments are put back as they were (every column, raw values)."""
    engine: Engine = live_server.engine
    with engine.connect() as conn:
        result = conn.execute(text("SELECT * FROM account_assignments"))
        columns = list(result.keys())
        saved = [dict(zip(columns, row, strict=True)) for row in result]
    yield engine
    names, params = ", ".join(columns), ", ".join(f":{c}" for c in columns)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM account_assignments"))
        if saved:
            conn.execute(
                text(f"INSERT INTO account_assignments ({names}) VALUES ({params})"),  # noqa: S608
                saved,
            )


def test_manager_sees_the_portfolio_charts(page: Any, live_server: Any, shoot: Shoot) -> None:
    landed = log_in(page, "manager")
    assert path_of(page) == "/portfolio" and landed.status == 200
    assert page.locator("h1").inner_text() == "资产组合"

    s = t.status_history
    with live_server.engine.connect() as conn:
        as_of = conn.execute(select(func.max(s.c.as_of))).scalar_one()
        active = conn.execute(
            select(func.count()).where(s.c.as_of == as_of, s.c.paid_off.is_(False))
        ).scalar_one()
    assert page.locator("#total-loans").inner_text() == str(active)

    # Three server-side SVG charts, each drawn with visible bars.
    for holder in ("#bucket-chart", "#dpd-distribution", "#roll-rates"):
        chart = page.locator(f"{holder} svg.chart")
        assert chart.count() == 1, holder
        assert chart.is_visible(), holder
        assert chart.bounding_box()["width"] > 300, holder
        bars = chart.locator("rect:has(title)")
        assert bars.count() > 0, holder
        heights = [b["height"] for b in (bars.nth(i).bounding_box() for i in range(bars.count()))]
        tallest = max(range(len(heights)), key=heights.__getitem__)
        assert heights[tallest] > 10, f"{holder}: no bar is drawn"
        assert bars.nth(tallest).is_visible(), holder
    # The bucket chart's tallest bar is the bucket with the most loans in the table.
    rows = page.locator("#by-bucket tbody tr").evaluate_all(
        "els => els.map(e => [e.dataset.key, Number(e.dataset.loans)])"
    )
    top = max(rows, key=lambda r: r[1])[0]
    bucket_bars = page.locator("#bucket-chart svg.chart rect:has(title)")
    titles = bucket_bars.locator("title").all_text_contents()
    heights = [bucket_bars.nth(i).bounding_box()["height"] for i in range(bucket_bars.count())]
    assert titles[heights.index(max(heights))].endswith(f" · {top}: {max(r[1] for r in rows)}")
    assert page.locator("#roll-rate-table tbody tr").count() >= 2
    shoot(page, "portfolio")

    with page.expect_navigation():
        page.click("header nav a[href='/assignments']")
    assert path_of(page) == "/assignments"
    assert page.locator("h1").inner_text() == "案件分配"
    assert page.locator("#rule-form").is_visible() and page.locator("#manual-form").is_visible()
    names = page.locator("#workload-table tbody tr").evaluate_all(
        "els => els.map(e => e.dataset.user)"
    )
    assert {"collector1", "collector2", "field1"} <= set(names)
    shoot(page, "assignments")


def test_manager_assigns_accounts_by_hand(page: Any, restore_assignments: Engine) -> None:
    engine = restore_assignments
    moving = sorted(b for b, u in _owners(engine).items() if u == "collector1")[:2]
    assert len(moving) == 2
    log_in(page, "manager")
    page.goto("/assignments")

    def load(username: str) -> int:
        cell = page.locator(f"#workload-table tr[data-user={username}]")
        return int(cell.get_attribute("data-accounts") or "-1")

    before = {u: load(u) for u in ("collector1", "collector2")}

    # An unknown account: refused, named, and nothing moves.
    page.fill("#borrower-ids", f"{moving[0]}\nNO-SUCH-9")
    page.select_option("#manual-user", str(_user_id(engine, "collector2")))
    refused = submit(page, "#assign-manual")
    assert refused.status == 422
    assert "NO-SUCH-9" in page.locator("#form-errors").inner_text()
    assert page.locator("#borrower-ids").input_value() == f"{moving[0]}\nNO-SUCH-9"
    assert _owners(engine)[moving[0]] == "collector1"

    # The two accounts, one per line: assigned, and the page says so.
    page.fill("#borrower-ids", "\n".join(moving))
    page.select_option("#manual-user", str(_user_id(engine, "collector2")))
    done = submit(page, "#assign-manual")
    assert done.status == 200
    assert path_of(page) == "/assignments"
    assert parse_qs(urlparse(page.url).query)["assigned"] == ["2"]
    result = page.locator("#result")
    assert result.is_visible()
    assert result.locator("p").inner_text() == "已分配 2 个案件（手工）。"
    assert result.locator("li[data-user=collector2]").get_attribute("data-count") == "2"
    assert load("collector1") == before["collector1"] - 2
    assert load("collector2") == before["collector2"] + 2
    owners = _owners(engine)
    assert [owners[b] for b in moving] == ["collector2", "collector2"]


def test_compliance_filters_the_audit_log(
    new_page: Callable[[], Any], live_server: Any, shoot: Shoot
) -> None:
    # collector2 opens an account: a masked view of a borrower, audited.
    collector = new_page()
    log_in(collector, "collector2")
    account = collector.locator("#queue a[href^='/accounts/']").first.get_attribute("href")
    assert account
    account_id = account.removeprefix("/accounts/")
    collector.goto(account)
    assert collector.locator("#borrower-phone").is_visible()

    page = new_page()
    landed = log_in(page, "compliance")
    assert path_of(page) == "/audit" and landed.status == 200
    assert page.locator("h1").inner_text() == "审计日志"
    page.fill("#audit-filter input[name=actor]", "collector2")
    page.select_option("#audit-action", "view_borrower")
    submit(page, "#audit-apply")
    query = parse_qs(urlparse(page.url).query)
    assert query["actor"] == ["collector2"] and query["action"] == ["view_borrower"]

    a = d.audit_log
    with live_server.engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).where(a.c.actor == "collector2", a.c.action == "view_borrower")
        ).scalar_one()
    total = page.locator("#audit-total")
    assert total.get_attribute("data-total") == str(stored)
    assert stored >= 1 and total.inner_text() == f"{stored} 条记录"
    rows = page.locator("#audit-table tbody tr[data-audit-id]")
    assert rows.count() == min(stored, PAGE_SIZE)
    actions = rows.evaluate_all("els => els.map(e => e.dataset.action)")
    assert set(actions) == {"view_borrower"}
    assert set(rows.locator("td.actor").all_inner_texts()) == {"collector2"}
    newest = rows.first
    assert newest.locator("td.subject").inner_text() == account_id
    cells = newest.locator("td").all_inner_texts()
    assert cells[2:4] == ["催收员", "查看借款人（已脱敏）"]
    shoot(page, "audit")

    # The subject link narrows the log to that borrower.
    with page.expect_navigation():
        newest.locator("td.subject a").click()
    assert parse_qs(urlparse(page.url).query) == {"subject": [account_id]}
    subjects = page.locator("#audit-table td.subject").all_inner_texts()
    assert subjects and all(account_id in s for s in subjects)


def test_admin_creates_a_team_a_user_and_a_token(
    new_page: Callable[[], Any], live_server: Any, shoot: Shoot
) -> None:
    tag = uuid.uuid4().hex[:6]
    team, username, token_name = f"催收三组-{tag}", f"agent_{tag}", f"核心系统-{tag}"
    page = new_page()
    landed = log_in(page, "admin")
    assert path_of(page) == "/admin/users" and landed.status == 200

    # A team.
    with page.expect_navigation():
        page.click("header nav a[href='/admin/teams']")
    page.fill("#new-team-form input[name=name]", team)
    submit(page, "#create-team")
    assert page.locator("#team-created").inner_text() == "团队已创建。"
    assert page.locator(f'#teams-table tr[data-team="{team}"]').count() == 1

    # A collector in that team.
    with page.expect_navigation():
        page.click("header nav a[href='/admin/users']")
    form = page.locator("#new-user-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=display_name]").fill("赵 测试")
    form.locator("select[name=role]").select_option("collector")
    form.locator("select[name=team_id]").select_option(label=team)
    form.locator("input[name=password]").fill("agent-pass-789")
    submit(page, "#create-user")
    assert page.locator("#user-created").inner_text() == f"用户 {username} 已创建。"
    row = page.locator(f"#users-table tr[data-username={username}]")
    assert row.get_attribute("data-role") == "collector"
    assert row.get_attribute("data-active") == "yes"
    assert team in row.inner_text() and "赵 测试" in row.inner_text()
    shoot(page, "admin-users")

    # The new collector can log in and lands on their (empty) queue.
    agent = new_page()
    log_in(agent, username, "agent-pass-789")
    assert path_of(agent) == "/queue"
    assert agent.locator("header span.who[data-role=collector]").inner_text() == "赵 测试"

    # An API token: shown once, on the page after creating it.
    with page.expect_navigation():
        page.click("header nav a[href='/admin/tokens']")
    page.fill("#new-token-form input[name=name]", token_name)
    page.check("#new-token-form input[name=scope][value='accounts:read']")
    created = submit(page, "#create-token")
    assert created.status == 201
    assert page.locator("h1").inner_text() == "API 令牌已创建"
    assert page.locator("#new-token-warning").is_visible()
    secret = page.locator("#new-token-secret").inner_text().strip()
    assert re.fullmatch(r"arr_[A-Za-z0-9_\-]{40,}", secret), secret

    # It works for a system, and is not shown again.
    r = httpx.get(
        f"{live_server.url}/api/v1/accounts",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 200, r.text
    with page.expect_navigation():
        page.click("#back-to-tokens")
    listed = page.locator(f'#tokens-table tr[data-token-name="{token_name}"]')
    assert listed.count() == 1 and listed.get_attribute("data-revoked") == "no"
    assert listed.locator("span.scope").get_attribute("data-scope") == "accounts:read"
    assert secret not in page.content()
    with live_server.engine.connect() as conn:
        stored = conn.execute(
            select(d.api_tokens.c.token_hash).where(d.api_tokens.c.name == token_name)
        ).scalar_one()
    assert secret not in stored and len(stored) == 64
