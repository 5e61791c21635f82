"""The manager's pages over HTTP (TestClient), on SQLite and PostgreSQL: the portfolio
(``/portfolio``) and account assignment (``/assignments``, by rule and by hand).

Every figure on the portfolio page is checked against numbers this module computes itself,
in Python over the rows of ``status_history`` (never through ``services.portfolio_view``):
on the shared demo book, and on a small hand-made history whose roll rates are known in
advance. Tests that change assignments on the shared demo store put them back afterwards.
"""

from __future__ import annotations

import html
import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select, text

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.people import Role
from arrears.services import portfolio_view as pv
from arrears.services.auth import create_user
from arrears.web.i18n import lang_for
from fixtures.web import DEMO_PASSWORD, FixedClock, csrf_of, logged_in, make_web

BUCKETS = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M6+")
# Upper DPD bound of each bucket but the last (the default product's edges).
EDGES = (0, 30, 60, 90, 120, 150, 180)
BANDS: tuple[tuple[int, int | None], ...] = (
    (0, 0),
    (1, 7),
    (8, 15),
    (16, 30),
    (31, 60),
    (61, 90),
    (91, 180),
    (181, None),
)
CLASSES = ("normal", "special_mention", "substandard", "doubtful", "loss")
WORKERS = ("collector", "field_agent")
OTHERS = ("collector1", "collector2", "field1", "compliance", "admin")
ZH = lang_for("zh_CN", "zh_CN", "Asia/Shanghai")
EN = lang_for("en", "zh_CN", "Asia/Shanghai")


# --- reading the page -----------------------------------------------------------------


def _attrs(tag: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'data-([\w-]+)="([^"]*)"', tag)}


def _table(page: str, table_id: str) -> str:
    found = re.search(rf'<table[^>]*id="{re.escape(table_id)}".*?</table>', page, flags=re.S)
    assert found, f"no table #{table_id} on the page"
    return found.group(0)


def _body_rows(page: str, table_id: str) -> list[dict[str, str]]:
    """The data-* attributes of each body row of a table (rows without any are skipped)."""
    body = _table(page, table_id).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [a for a in (_attrs(m) for m in re.findall(r"<tr\b[^>]*>", body)) if a]


def _cells(page: str, table_id: str) -> list[list[str]]:
    """The visible text of each cell of each body row."""
    body = _table(page, table_id).split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = []
    for row in re.findall(r"<tr\b.*?</tr>", body, flags=re.S):
        cells = re.findall(r"<td\b[^>]*>(.*?)</td>", row, flags=re.S)
        out.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return out


def _value(page: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}" data-value="(-?\d+)">([^<]*)<', page)
    assert found, f"no #{element_id} on the page"
    return int(found.group(1))


def _section(page: str, section_id: str) -> str:
    found = re.search(rf'<section[^>]*id="{section_id}".*?</section>', page, flags=re.S)
    assert found, f"no section #{section_id}"
    return found.group(0)


def _bars(svg_holder: str) -> dict[str, str]:
    """Bar titles of the first SVG chart in ``svg_holder``: ``{category: shown value}``."""
    svg = re.search(r'<svg class="chart".*?</svg>', svg_holder, flags=re.S)
    assert svg, "no SVG chart"
    bars = re.findall(
        r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"[^>]*>'
        r"<title>[^<]*? · ([^<]*): ([^<]*)</title></rect>",
        svg.group(0),
    )
    return {html.unescape(cat): html.unescape(shown) for _h, cat, shown in bars}


def _bar_heights(svg_holder: str) -> list[float]:
    svg = re.search(r'<svg class="chart".*?</svg>', svg_holder, flags=re.S)
    assert svg
    return [float(h) for h in re.findall(r'height="([\d.]+)"[^>]*><title>', svg.group(0))]


# --- independent figures ----------------------------------------------------------------


def _bucket_of(dpd: int) -> str:
    for i, edge in enumerate(EDGES):
        if dpd <= edge:
            return BUCKETS[i]
    return BUCKETS[-1]


def _class_of(dpd: int) -> str:
    # bank_2023: 0 normal, ≤90 special mention, ≤270 substandard, ≤360 doubtful, then loss
    for bound, name in ((0, "normal"), (90, "special_mention"), (270, "substandard")):
        if dpd <= bound:
            return name
    return "doubtful" if dpd <= 360 else "loss"


def _band_of(dpd: int) -> int:
    return next(i for i, (lo, hi) in enumerate(BANDS) if dpd >= lo and (hi is None or dpd <= hi))


def _history(engine: Engine) -> dict[date, list[Any]]:
    """Every status row, by date (plain rows: no aggregate of the store is used)."""
    s = t.status_history
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                s.c.loan_id,
                s.c.as_of,
                s.c.borrower_id,
                s.c.dpd,
                s.c.bucket,
                s.c.classification,
                s.c.principal_outstanding_minor,
                s.c.overdue_interest_minor,
                s.c.accrued_penalty_minor,
                s.c.accrued_compound_minor,
                s.c.total_due_now_minor,
                s.c.paid_off,
            )
        ).all()
    out: dict[date, list[Any]] = defaultdict(list)
    for r in rows:
        out[r.as_of].append(r)
    return dict(out)


def _balance(r: Any) -> int:
    """What the borrower would owe to settle: principal (due or not) + interest in arrears +
    penalty + compound interest (the definition the page states)."""
    return int(
        r.principal_outstanding_minor
        + r.overdue_interest_minor
        + r.accrued_penalty_minor
        + r.accrued_compound_minor
    )


def _group(rows: list[Any], key: Any) -> dict[Any, tuple[int, int, int]]:
    out: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        if r.paid_off:
            continue
        g = out[key(r)]
        g[0] += 1
        g[1] += _balance(r)
        g[2] += int(r.total_due_now_minor)
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def _month_ends(dates: list[date]) -> list[date]:
    """The last cycle date of the latest month and of each earlier month without a gap."""
    last: dict[tuple[int, int], date] = {}
    for day in sorted(dates):
        last[(day.year, day.month)] = day
    points = [max(dates)]
    year, month = points[0].year, points[0].month
    for _ in range(6):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        if (year, month) not in last:
            break
        points.append(last[(year, month)])
    return sorted(points)


def _rolls(history: dict[date, list[Any]]) -> dict[tuple[date, date], dict[str, tuple[int, int]]]:
    """(start, end) → bucket → (active loans at start, of those exactly one bucket worse at
    the end and not paid off)."""
    points = _month_ends(list(history))
    out = {}
    for start, end in itertools.pairwise(points):
        at_end = {r.loan_id: r for r in history[end]}
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in history[start]:
            if r.paid_off:
                continue
            per[r.bucket][0] += 1
            e = at_end.get(r.loan_id)
            live = e is not None and not e.paid_off
            if live and BUCKETS.index(e.bucket) == BUCKETS.index(r.bucket) + 1:
                per[r.bucket][1] += 1
        out[(start, end)] = {b: (per[b][0], per[b][1]) for b in BUCKETS[:-1]}
    return out


# --- the shared demo store: its portfolio ---------------------------------------------------


@pytest.fixture(scope="module")
def manager(desk_app: Any) -> TestClient:
    return logged_in(desk_app, "manager")


def test_totals_buckets_and_classes_match_the_history(
    manager: TestClient, desk_engine: Engine
) -> None:
    history = _history(desk_engine)
    as_of = max(history)
    rows = history[as_of]
    page = manager.get("/portfolio")
    assert page.status_code == 200
    assert f'data-as-of="{as_of.isoformat()}"' in page.text

    active = [r for r in rows if not r.paid_off]
    assert active and len(active) < len(rows), "the demo book should have paid-off loans too"
    assert _value(page.text, "total-loans") == len(active)
    assert _value(page.text, "total-balance") == sum(_balance(r) for r in active)
    assert _value(page.text, "total-overdue") == sum(r.total_due_now_minor for r in active)
    assert _value(page.text, "paid-off-excluded") == len(rows) - len(active)
    assert f">{ZH.money(sum(_balance(r) for r in active))}<" in page.text

    by_bucket = _group(rows, lambda r: r.bucket)
    shown = {r["key"]: r for r in _body_rows(page.text, "by-bucket")}
    assert list(shown) == list(BUCKETS)
    for bucket in BUCKETS:
        loans, balance, overdue = by_bucket.get(bucket, (0, 0, 0))
        row = shown[bucket]
        assert (int(row["loans"]), int(row["balance"]), int(row["overdue"])) == (
            loans,
            balance,
            overdue,
        ), bucket
    assert sum(v[0] for v in by_bucket.values()) == len(active)
    # the visible cells say the same as the data attributes
    for cells in _cells(page.text, "by-bucket"):
        loans, balance, overdue = by_bucket.get(cells[0], (0, 0, 0))
        assert cells[1] == ZH.number(loans)
        assert cells[3] == ZH.money(balance) and cells[4] == ZH.money(overdue)

    by_class = _group(rows, lambda r: r.classification)
    shown = {r["key"]: r for r in _body_rows(page.text, "by-classification")}
    assert list(shown) == list(CLASSES)
    for name in CLASSES:
        loans, balance, overdue = by_class.get(name, (0, 0, 0))
        row = shown[name]
        assert (int(row["loans"]), int(row["balance"]), int(row["overdue"])) == (
            loans,
            balance,
            overdue,
        ), name
    names = [c[0] for c in _cells(page.text, "by-classification")]
    assert names == ["正常", "关注", "次级", "可疑", "损失"]


def test_dpd_distribution_matches_the_history_and_is_charted(
    manager: TestClient, desk_engine: Engine
) -> None:
    history = _history(desk_engine)
    rows = [r for r in history[max(history)] if not r.paid_off]
    counts = Counter(_band_of(r.dpd) for r in rows)
    balances: Counter[int] = Counter()
    for r in rows:
        balances[_band_of(r.dpd)] += _balance(r)
    page = manager.get("/portfolio").text

    shown = _body_rows(page, "dpd-table")
    assert [(int(b["low"]), int(b["high"]) if b["high"] else None) for b in shown] == list(BANDS)
    assert [int(b["loans"]) for b in shown] == [counts[i] for i in range(len(BANDS))]
    assert [int(b["balance"]) for b in shown] == [balances[i] for i in range(len(BANDS))]
    assert sum(counts.values()) == len(rows)
    assert [c[0] for c in _cells(page, "dpd-table")] == [
        "0",
        "1–7",
        "8–15",
        "16–30",
        "31–60",
        "61–90",
        "91–180",
        ">180",
    ]

    # The page draws three SVG bar charts; the bars carry the same numbers as the tables.
    assert page.count('<svg class="chart"') == 3
    dpd_bars = _bars(_section(page, "dpd-distribution"))
    assert dpd_bars == {
        label: ZH.number(counts[i])
        for i, label in enumerate(["0", "1–7", "8–15", "16–30", "31–60", "61–90", "91–180", ">180"])
    }
    by_bucket = Counter(r.bucket for r in rows)
    bucket_bars = _bars(_section(page, "bucket-chart"))
    assert bucket_bars == {b: ZH.number(by_bucket[b]) for b in BUCKETS}
    heights = _bar_heights(_section(page, "bucket-chart"))
    tallest = max(range(len(BUCKETS)), key=lambda i: by_bucket[BUCKETS[i]])
    assert heights[tallest] == max(heights) > 0
    assert [h > 0 for h in heights] == [by_bucket[b] > 0 for b in BUCKETS]
    roll = _section(page, "roll-rates")
    assert re.search(r'<svg class="chart".*?<rect ', roll, flags=re.S)


def test_roll_rates_of_the_demo_book_match_the_history(
    manager: TestClient, desk_engine: Engine
) -> None:
    expected = _rolls(_history(desk_engine))
    assert len(expected) >= 2, "the demo book should span several months"
    page = manager.get("/portfolio").text
    table = _table(page, "roll-rate-table")
    got: dict[tuple[date, date], dict[str, tuple[int, int]]] = {}
    for m in re.finditer(
        r'<tr data-start="([\d-]+)" data-end="([\d-]+)">(.*?)</tr>', table, flags=re.S
    ):
        period = (date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2)))
        got[period] = {
            c["bucket"]: (int(c["loans"]), int(c["rolled"]))
            for c in (_attrs(tag) for tag in re.findall(r"<td\b[^>]*>", m.group(3)))
            if "bucket" in c
        }
    assert got == expected
    assert any(rolled for period in got.values() for _n, rolled in period.values())


def test_workload_per_collector_matches_the_assignments(
    manager: TestClient, desk_engine: Engine
) -> None:
    history = _history(desk_engine)
    live = [r for r in history[max(history)] if not r.paid_off]
    u, a = d.users, d.account_assignments
    with desk_engine.connect() as conn:
        workers = conn.execute(
            select(u.c.user_id, u.c.username).where(u.c.role.in_(WORKERS), u.c.active.is_(True))
        ).all()
        owned = conn.execute(select(a.c.borrower_id, a.c.user_id)).all()
    owner = {b: uid for b, uid in owned}
    expected = {}
    for user_id, username in workers:
        mine = {b for b, uid in owner.items() if uid == user_id}
        loans = [r for r in live if r.borrower_id in mine]
        expected[username] = {
            "accounts": str(len(mine)),
            "overdue-accounts": str(len({r.borrower_id for r in loans if r.dpd > 0})),
            "balance": str(sum(_balance(r) for r in loans)),
            "overdue": str(sum(r.total_due_now_minor for r in loans)),
        }
    rows = _body_rows(manager.get("/portfolio").text, "workload-table")
    assert {r.pop("user"): r for r in rows} == expected
    assert int(expected["collector1"]["accounts"]) > 0


# --- a hand-made history: roll rates known in advance ----------------------------------------

SEP, OCT_MID, OCT, NOV_MID, NOV = (
    date(2026, 9, 30),
    date(2026, 10, 15),
    date(2026, 10, 31),
    date(2026, 11, 10),
    date(2026, 11, 28),
)
PAID = -1
# loan → {cycle date: DPD, or PAID}. Periods: 30 Sep → 31 Oct → 28 Nov (the last cycle
# date of each month). 15 Oct and 10 Nov are not month ends: any use of them shows, since
# every loan is in M6+ on 15 Oct and in M0 on 10 Nov.
HISTORY: dict[str, dict[date, int]] = {
    "A1": {SEP: 0, OCT: 10, NOV: 38},  # M1 → M2
    "A2": {SEP: 0, OCT: 10, NOV: 31},  # M1 → M2
    "A3": {SEP: 0, OCT: 10, NOV: 30},  # M1 stays
    "A4": {SEP: 0, OCT: 10, NOV: 0},  # M1 → M0, cured
    "B1": {SEP: 0, OCT: 0, NOV: 7},  # M0 → M1
    "B2": {SEP: 0, OCT: 0, NOV: 0},
    "B3": {SEP: 0, OCT: 0, NOV: 0},
    "B4": {SEP: 0, OCT: 0, NOV: 0},
    "B5": {SEP: 0, OCT: 0, NOV: PAID},  # M0 → paid off
    "C1": {SEP: 20, OCT: 51, NOV: PAID},  # M1 → M2 → paid off
    "D1": {SEP: 122, OCT: 153, NOV: 181},  # M5 → M6 → M6+
    "D2": {SEP: 32, OCT: 63, NOV: 91},  # M2 → M3 → M4
    "P1": {SEP: 0, OCT: PAID, NOV: PAID},  # paid off in October: in no period after
    "N1": {NOV: 0},  # new in November: in no period
}
PRINCIPAL = {loan: 100_000 * (i + 1) for i, loan in enumerate(HISTORY)}
# rate cells of the roll-rate table: period → bucket → (loans at start, one bucket worse)
EXPECTED_ROLLS = {
    (OCT, NOV): {
        "M0": (5, 1),
        "M1": (4, 2),
        "M2": (1, 0),
        "M3": (1, 1),
        "M4": (0, 0),
        "M5": (0, 0),
        "M6": (1, 1),
    },
    (SEP, OCT): {
        "M0": (10, 4),
        "M1": (1, 1),
        "M2": (1, 1),
        "M3": (0, 0),
        "M4": (0, 0),
        "M5": (1, 1),
        "M6": (0, 0),
    },
}


def _figures(loan: str, dpd: int) -> dict[str, Any]:
    if dpd == PAID:
        zero = dict.fromkeys(
            (
                "overdue_principal_minor",
                "overdue_interest_minor",
                "accrued_penalty_minor",
                "accrued_compound_minor",
                "principal_outstanding_minor",
                "total_due_now_minor",
            ),
            0,
        )
        return {**zero, "dpd": 0, "bucket": "M0", "classification": "normal", "paid_off": True}
    o_principal, o_interest, penalty, compound = 100 * dpd, 11 * dpd, 3 * dpd, dpd
    return {
        "dpd": dpd,
        "bucket": _bucket_of(dpd),
        "classification": _class_of(dpd),
        "overdue_principal_minor": o_principal,
        "overdue_interest_minor": o_interest,
        "accrued_penalty_minor": penalty,
        "accrued_compound_minor": compound,
        "principal_outstanding_minor": PRINCIPAL.get(loan, 500_000),
        "total_due_now_minor": o_principal + o_interest + penalty + compound,
        "paid_off": False,
    }


def _hand_store(engine: Engine, history: dict[str, dict[date, int]]) -> TestClient:
    """Borrowers, loans and status rows of ``history`` (plus the distractor dates), a
    manager; a client logged in as that manager (default locale zh-CN)."""
    now = FixedClock().now()
    stamp = {"created_at": now, "updated_at": now}
    statuses = []
    for loan, days in history.items():
        rows = dict(days)
        if days.keys() & {SEP, OCT}:
            rows.setdefault(OCT_MID, 200)
        if NOV in days:
            rows.setdefault(NOV_MID, 0 if days[NOV] != PAID else PAID)
        for day, dpd in rows.items():
            statuses.append(
                {
                    "loan_id": loan,
                    "as_of": day,
                    "borrower_id": f"B-{loan}",
                    "next_due_date": None,
                    "next_due_amount_minor": 0,
                    "credit_balance_minor": 0,
                    **_figures(loan, dpd),
                }
            )
    with engine.begin() as conn:
        conn.execute(
            insert(t.borrowers),
            [
                {
                    "borrower_id": f"B-{loan}",
                    "name": "测试",
                    "phone": "+8613800000000",
                    "country": "CN",
                    "city": "北京市",
                    "attributes": {},
                    **stamp,
                }
                for loan in history
            ],
        )
        conn.execute(
            insert(t.loans),
            [
                {
                    "loan_id": loan,
                    "borrower_id": f"B-{loan}",
                    "product": "default",
                    "currency": "CNY",
                    "principal_minor": PRINCIPAL.get(loan, 500_000),
                    "annual_rate": Decimal("0.12"),
                    "term_months": 12,
                    "start_date": date(2026, 1, 1),
                    "repayment_method": "annuity",
                    "attributes": {},
                    **stamp,
                }
                for loan in history
            ],
        )
        conn.execute(insert(t.status_history), statuses)
        create_user(conn, "manager", DEMO_PASSWORD, Role.MANAGER, now, "王经理")
    return logged_in(make_web(engine), "manager")


def _roll_cells(page: str) -> dict[tuple[date, date], dict[str, tuple[int, int, str]]]:
    table = _table(page, "roll-rate-table")
    out = {}
    for m in re.finditer(
        r'<tr data-start="([\d-]+)" data-end="([\d-]+)">(.*?)</tr>', table, flags=re.S
    ):
        cells = {}
        for cm in re.finditer(r"(<td\b[^>]*>)(.*?)</td>", m.group(3), flags=re.S):
            a = _attrs(cm.group(1))
            if "bucket" in a:
                shown = re.sub(r"<[^>]+>", "", cm.group(2)).strip()
                cells[a["bucket"]] = (int(a["loans"]), int(a["rolled"]), shown)
        out[(date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2)))] = cells
    return out


def test_roll_rates_on_a_known_history(store: Engine) -> None:
    client = _hand_store(store, HISTORY)
    page = client.get("/portfolio")
    assert page.status_code == 200
    cells = _roll_cells(page.text)
    assert list(cells) == [(OCT, NOV), (SEP, OCT)]  # newest first
    assert {p: {b: c[:2] for b, c in row.items()} for p, row in cells.items()} == EXPECTED_ROLLS
    latest, earlier = cells[(OCT, NOV)], cells[(SEP, OCT)]
    assert latest["M1"][2] == "50.0%"  # 2 of the 4 loans in M1 on 31 Oct are in M2 on 28 Nov
    assert latest["M0"][2] == "20.0%"
    assert latest["M2"][2] == "0.0%"  # paid off is not a roll
    assert latest["M6"][2] == "100.0%"
    assert latest["M4"][2] == "–"  # no loans: no rate
    assert earlier["M0"][2] == "40.0%"

    movement = {r["bucket"]: r for r in _body_rows(page.text, "roll-movement")}
    got = {
        b: [c.strip() for c in re.findall(r"<td[^>]*>([^<]*)</td>", row)][1:6]
        for b, row in re.findall(
            r'<tr data-bucket="([^"]+)">(.*?)</tr>', _table(page.text, "roll-movement"), re.S
        )
    }
    assert set(movement) == set(BUCKETS)
    # loans at start, one bucket worse, any worse, cured, paid off
    assert got["M1"] == ["4", "2", "2", "1", "0"]
    assert got["M0"] == ["5", "1", "1", "0", "1"]
    assert got["M2"] == ["1", "0", "0", "0", "1"]
    assert got["M6"] == ["1", "1", "1", "0", "0"]

    # The service says the same (the page is not doing its own arithmetic).
    with store.connect() as conn:
        assert pv.roll_periods(conn, NOV) == [(SEP, OCT), (OCT, NOV)]
        view = pv.portfolio_view(conn)
    assert view.rolls[-1].rate_of("M1") == 0.5
    assert view.rolls[-1].rate_of("M0") == 0.2
    assert view.rolls[0].rate_of("M0") == 0.4
    assert view.rolls[-1].rate_of("M6+") is None


def test_known_history_totals_dpd_bands_and_bars(store: Engine) -> None:
    client = _hand_store(store, HISTORY)
    page = client.get("/portfolio").text
    live = {loan: days[NOV] for loan, days in HISTORY.items() if days.get(NOV, PAID) != PAID}
    assert _value(page, "total-loans") == len(live) == 11
    assert _value(page, "paid-off-excluded") == 3  # B5, C1, P1
    figures = {loan: _figures(loan, dpd) for loan, dpd in live.items()}
    assert _value(page, "total-balance") == sum(
        f["principal_outstanding_minor"]
        + f["overdue_interest_minor"]
        + f["accrued_penalty_minor"]
        + f["accrued_compound_minor"]
        for f in figures.values()
    )
    assert _value(page, "total-overdue") == sum(f["total_due_now_minor"] for f in figures.values())
    buckets = {r["key"]: int(r["loans"]) for r in _body_rows(page, "by-bucket")}
    assert buckets == {"M0": 5, "M1": 2, "M2": 2, "M3": 0, "M4": 1, "M5": 0, "M6": 0, "M6+": 1}
    # edges: 7 is in 1–7, 30 in 16–30, 31 in 31–60, 91 in 91–180, 181 in >180
    bands = [int(r["loans"]) for r in _body_rows(page, "dpd-table")]
    assert bands == [5, 1, 0, 1, 2, 0, 1, 1]
    heights = _bar_heights(_section(page, "bucket-chart"))
    assert [h > 0 for h in heights] == [buckets[b] > 0 for b in BUCKETS]
    assert heights[0] == max(heights)


def test_no_previous_month_means_no_roll_rates(store: Engine) -> None:
    client = _hand_store(store, {"X1": {NOV: 12}, "X2": {NOV: 0}})  # cycles on 10 and 28 Nov
    page = client.get("/portfolio")
    assert page.status_code == 200
    assert "历史数据不足，无法计算迁徙率：需要上月至少有一次日终批处理。" in page.text
    assert 'id="roll-rate-table"' not in page.text
    assert _value(page.text, "total-loans") == 2
    assert page.text.count('<svg class="chart"') == 2  # buckets and DPD; no roll chart
    with store.connect() as conn:
        assert pv.roll_periods(conn, NOV) == []


def test_portfolio_in_chinese_and_english(store: Engine) -> None:
    client = _hand_store(store, HISTORY)
    zh = client.get("/portfolio").text
    assert '<html lang="zh' in zh
    for label in ("资产组合", "在贷资产", "按逾期阶段", "按五级分类", "逾期天数分布", "迁徙率"):
        assert f">{label}<" in zh, label
    assert "各催收员工作量" in zh and "次级" in zh
    assert ZH.date(NOV) in zh and f">{ZH.money(_value(zh, 'total-balance'))}<" in zh
    assert "Roll rates" not in zh

    r = client.post(
        "/language", data={"csrf_token": csrf_of(zh), "locale": "en", "back": "/portfolio"}
    )
    assert r.status_code == 200 and str(r.url).endswith("/portfolio")
    en = r.text
    assert '<html lang="en' in en
    for label in (
        "Portfolio",
        "Active book",
        "By bucket",
        "By classification",
        "Days past due distribution",
        "Roll rates",
        "Workload per collector",
    ):
        assert f">{label}<" in en, label
    assert ">Substandard<" in en and ">Special mention<" in en
    assert EN.date(NOV) in en and f">{EN.money(_value(en, 'total-balance'))}<" in en
    assert "资产组合" not in en and "迁徙率" not in en
    assert _roll_cells(en)[(OCT, NOV)]["M1"][2] == "50.0%"


# --- who may open the manager's pages -------------------------------------------------------


def _assignment_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """The whole assignments table as stored (every column, whatever the schema holds)."""
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(text("SELECT * FROM account_assignments ORDER BY borrower_id"))
        ]


def _audit_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(d.audit_log)).scalar_one())


@pytest.mark.parametrize("username", OTHERS)
def test_other_roles_get_403(desk_app: Any, desk_engine: Engine, username: str) -> None:
    client = logged_in(desk_app, username)
    assert client.get("/portfolio").status_code == 403
    assert client.get("/assignments").status_code == 403
    csrf = csrf_of(client.get("/", follow_redirects=True).text)
    ids = _ids(desk_engine)
    before, audit = _assignment_rows(desk_engine), _audit_count(desk_engine)
    rule = client.post(
        "/assignments/rule",
        data={"csrf_token": csrf, "rule": "balance", "user_id": [str(ids["collector1"])]},
        follow_redirects=False,
    )
    manual = client.post(
        "/assignments/manual",
        data={
            "csrf_token": csrf,
            "borrower_ids": _accounts_of(desk_engine, "collector2")[0],
            "user_id": str(ids["collector1"]),
        },
        follow_redirects=False,
    )
    assert (rule.status_code, manual.status_code) == (403, 403)
    assert _assignment_rows(desk_engine) == before
    assert _audit_count(desk_engine) == audit


# --- assignment -----------------------------------------------------------------------------


@pytest.fixture
def restore_assignments(desk_engine: Engine) -> Iterator[None]:
    """Put the shared store's assignments back as they were (every column, raw values)."""
    with desk_engine.connect() as conn:
        result = conn.execute(text("SELECT * FROM account_assignments"))
        columns = list(result.keys())
        saved = [dict(zip(columns, row, strict=True)) for row in result]
    yield
    names = ", ".join(columns)
    params = ", ".join(f":{c}" for c in columns)
    with desk_engine.begin() as conn:
        conn.execute(text("DELETE FROM account_assignments"))
        if saved:
            conn.execute(
                text(f"INSERT INTO account_assignments ({names}) VALUES ({params})"),  # noqa: S608
                saved,
            )


def _ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            str(r.username): int(r.user_id)
            for r in conn.execute(select(d.users.c.username, d.users.c.user_id))
        }


def _owners(engine: Engine) -> dict[str, tuple[str, str, str]]:
    """borrower → (username, rule, assigned_by)."""
    a, u = d.account_assignments, d.users
    with engine.connect() as conn:
        rows = conn.execute(
            select(a.c.borrower_id, u.c.username, a.c.rule, a.c.assigned_by).join(
                u, u.c.user_id == a.c.user_id
            )
        ).all()
    return {str(r[0]): (str(r[1]), str(r[2]), str(r[3])) for r in rows}


def _accounts_of(engine: Engine, username: str) -> list[str]:
    return sorted(b for b, (u, *_rest) in _owners(engine).items() if u == username)


def _active_accounts(engine: Engine) -> dict[str, list[Any]]:
    """Accounts with a loan not paid off at the last cycle → their live status rows."""
    history = _history(engine)
    out: dict[str, list[Any]] = defaultdict(list)
    for r in history[max(history)]:
        if not r.paid_off:
            out[r.borrower_id].append(r)
    return dict(out)


def _assign_events(engine: Engine) -> list[Any]:
    a = d.audit_log
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(a.c.actor, a.c.role, a.c.subject_type, a.c.subject_id, a.c.detail)
                .where(a.c.action == "assign")
                .order_by(a.c.audit_id)
            ).all()
        )


def _result(page: str) -> dict[str, int]:
    found = re.search(
        r'<div class="card" id="result" data-assigned="(\d+)">(.*?)</div>', page, re.S
    )
    assert found, "no result box on the assignments page"
    per = dict(re.findall(r'<li data-user="([^"]+)" data-count="(\d+)">', found.group(2)))
    return {"assigned": int(found.group(1)), **{u: int(n) for u, n in per.items()}}


def _post_rule(client: TestClient, **form: Any) -> Any:
    csrf = csrf_of(client.get("/assignments").text)
    return client.post("/assignments/rule", data={"csrf_token": csrf, **form})


@pytest.mark.usefixtures("restore_assignments")
def test_balance_rule_spreads_accounts_evenly(manager: TestClient, desk_engine: Engine) -> None:
    ids = _ids(desk_engine)
    workers = ["collector1", "collector2", "field1"]
    with desk_engine.begin() as conn:  # start from nobody working anything
        conn.execute(d.account_assignments.delete())
    before = len(_assign_events(desk_engine))
    page = _post_rule(manager, rule="balance", user_id=[str(ids[u]) for u in workers])
    assert page.status_code == 200 and "/assignments?assigned=" in str(page.url)

    active = _active_accounts(desk_engine)
    owners = _owners(desk_engine)
    assert set(owners) == set(active), "every account with an active loan, and only those"
    per_user = Counter(u for u, _rule, _by in owners.values())
    assert set(per_user) == set(workers)
    assert max(per_user.values()) - min(per_user.values()) <= 1
    assert {(rule, by) for _u, rule, by in owners.values()} == {("balance", "manager")}
    assert _result(page.text) == {"assigned": len(active), **per_user}
    assert 'id="unassigned" data-value="0"' in page.text

    events = _assign_events(desk_engine)
    assert len(events) == before + 1
    actor, role, subject_type, subject_id, detail = events[-1]
    assert (actor, role, subject_type, subject_id) == ("manager", "manager", "rule", "balance")
    assert detail["accounts"] == len(active) and detail["per_user"] == dict(per_user)


@pytest.mark.usefixtures("restore_assignments")
def test_only_unassigned_leaves_existing_assignments_alone(
    manager: TestClient, desk_engine: Engine
) -> None:
    ids = _ids(desk_engine)
    freed = _accounts_of(desk_engine, "collector1")[:6]
    assert len(freed) == 6
    with desk_engine.begin() as conn:
        conn.execute(
            d.account_assignments.delete().where(d.account_assignments.c.borrower_id.in_(freed))
        )
    kept = _owners(desk_engine)
    loads = Counter(u for u, *_rest in kept.values())
    page = manager.get("/assignments").text
    assert 'id="unassigned" data-value="6"' in page

    r = _post_rule(
        manager,
        rule="balance",
        user_id=[str(ids["collector1"]), str(ids["collector2"])],
        only_unassigned="on",
    )
    assert r.status_code == 200
    after = _owners(desk_engine)
    assert {b: after[b] for b in kept} == kept, "an existing assignment changed"
    assert set(after) - set(kept) == set(freed)
    assert {after[b][1:] for b in freed} == {("balance", "manager")}
    # each freed account goes to whoever has fewer: the loads end as even as they can be
    one, two = loads["collector1"], loads["collector2"]
    for _ in freed:
        one, two = (one + 1, two) if one <= two else (one, two + 1)
    new_loads = Counter(u for u, *_rest in after.values())
    assert abs(new_loads["collector1"] - new_loads["collector2"]) == abs(one - two) <= 1
    got = _result(r.text)
    assert got["collector1"] + got["collector2"] == 6
    assert _result(r.text)["assigned"] == 6


@pytest.mark.usefixtures("restore_assignments")
def test_bucket_rule_assigns_only_accounts_whose_worst_loan_is_in_the_bucket(
    manager: TestClient, desk_engine: Engine
) -> None:
    ids = _ids(desk_engine)
    active = _active_accounts(desk_engine)
    worst = {b: max((r.bucket for r in rows), key=BUCKETS.index) for b, rows in active.items()}
    bucket = "M6"
    matching = {b for b, w in worst.items() if w == bucket}
    assert matching and len(matching) < len(active)
    before = _owners(desk_engine)
    r = _post_rule(manager, rule="bucket", bucket=bucket, user_id=[str(ids["field1"])])
    assert r.status_code == 200
    after = _owners(desk_engine)
    changed = {b for b in after if after[b] != before.get(b)}
    assert changed <= matching, "an account outside the bucket was reassigned"
    assert set(after) == set(before)
    assert all(after[b][:2] == ("field1", "bucket") for b in matching)
    assert _result(r.text) == {"assigned": len(matching), "field1": len(matching)}
    assert _assign_events(desk_engine)[-1].detail["bucket"] == bucket

    # without a bucket, the rule is refused and names the field
    r = _post_rule(manager, rule="bucket", user_id=[str(ids["field1"])])
    assert r.status_code == 422 and "bucket" in r.text
    assert _owners(desk_engine) == after


@pytest.mark.usefixtures("restore_assignments")
def test_city_rule_assigns_only_accounts_in_the_city(
    manager: TestClient, desk_engine: Engine
) -> None:
    ids = _ids(desk_engine)
    active = _active_accounts(desk_engine)
    with desk_engine.connect() as conn:
        city_of = dict(conn.execute(select(t.borrowers.c.borrower_id, t.borrowers.c.city)).all())
    city = Counter(city_of[b] for b in active).most_common()[-1][0]
    matching = {b for b in active if city_of[b] == city}
    assert matching and len(matching) < len(active)
    page = manager.get("/assignments").text
    assert f'<option value="{city}">' in page

    before = _owners(desk_engine)
    r = _post_rule(manager, rule="city", city=city, user_id=[str(ids["collector2"])])
    assert r.status_code == 200
    after = _owners(desk_engine)
    assert {b for b, (u, rule, _by) in after.items() if rule == "city"} == matching
    assert all(after[b][0] == "collector2" for b in matching)
    assert {b: after[b] for b in set(after) - matching} == {
        b: before[b] for b in set(before) - matching
    }
    assert _result(r.text) == {"assigned": len(matching), "collector2": len(matching)}


@pytest.mark.usefixtures("restore_assignments")
def test_manual_assignment_moves_the_accounts_and_their_access(
    desk_app: Any, manager: TestClient, desk_engine: Engine
) -> None:
    ids = _ids(desk_engine)
    moved = _accounts_of(desk_engine, "collector1")[:2]
    csrf = csrf_of(manager.get("/assignments").text)
    r = manager.post(
        "/assignments/manual",
        data={"csrf_token": csrf, "borrower_ids": "\n".join(moved), "user_id": ids["collector2"]},
    )
    assert r.status_code == 200
    assert _result(r.text) == {"assigned": 2, "collector2": 2}
    owners = _owners(desk_engine)
    assert [owners[b] for b in moved] == [("collector2", "manual", "manager")] * 2
    event = _assign_events(desk_engine)[-1]
    assert (event.subject_type, event.subject_id) == ("user", "collector2")
    assert event.detail["borrower_ids"] == moved
    # the account now opens for collector2 and is gone for collector1 (another team)
    assert logged_in(desk_app, "collector2").get(f"/accounts/{moved[0]}").status_code == 200
    assert logged_in(desk_app, "collector1").get(f"/accounts/{moved[0]}").status_code == 404


@pytest.mark.usefixtures("restore_assignments")
def test_manual_assignment_of_an_unknown_account_changes_nothing(
    manager: TestClient, desk_engine: Engine
) -> None:
    ids = _ids(desk_engine)
    known = _accounts_of(desk_engine, "collector1")[0]
    before, audit = _assignment_rows(desk_engine), _audit_count(desk_engine)
    csrf = csrf_of(manager.get("/assignments").text)
    r = manager.post(
        "/assignments/manual",
        data={
            "csrf_token": csrf,
            "borrower_ids": f"{known}\nNO-SUCH-ACCOUNT-7",
            "user_id": ids["collector2"],
        },
    )
    assert r.status_code == 422
    errors = re.search(r'id="form-errors">(.*?)</div>', r.text, flags=re.S)
    assert errors and "no account NO-SUCH-ACCOUNT-7" in errors.group(1)
    assert known not in errors.group(1)
    assert f"{known}\nNO-SUCH-ACCOUNT-7" in html.unescape(r.text)  # the form keeps the input
    assert _assignment_rows(desk_engine) == before
    assert _audit_count(desk_engine) == audit

    # a collector who is not one (the compliance officer) is refused the same way
    r = manager.post(
        "/assignments/manual",
        data={"csrf_token": csrf, "borrower_ids": known, "user_id": ids["compliance"]},
    )
    assert r.status_code == 422 and "not an active collector or field agent" in r.text
    assert _assignment_rows(desk_engine) == before


@pytest.mark.usefixtures("restore_assignments")
def test_assignment_forms_need_the_csrf_token(manager: TestClient, desk_engine: Engine) -> None:
    ids = _ids(desk_engine)
    account = _accounts_of(desk_engine, "collector1")[0]
    before, audit = _assignment_rows(desk_engine), _audit_count(desk_engine)
    for token in (None, "not-the-token"):
        extra = {"csrf_token": token} if token else {}
        manual = manager.post(
            "/assignments/manual",
            data={"borrower_ids": account, "user_id": ids["collector2"], **extra},
        )
        rule = manager.post(
            "/assignments/rule",
            data={"rule": "balance", "user_id": [str(ids["collector2"])], **extra},
        )
        assert (manual.status_code, rule.status_code) == (403, 403)
    assert _assignment_rows(desk_engine) == before
    assert _audit_count(desk_engine) == audit
