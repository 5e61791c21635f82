"""Champion / challenger report: each arm's figures against an independent computation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from arrears.adapters.db import desk_tables as d
from arrears.adapters.db import tables as t
from arrears.domain.errors import ValidationError
from arrears.services.experiment import arm_report, mean_interval, wilson
from arrears.services.strategy_files import load_arms
from fixtures.web import AS_OF, build_desk_store

DEFAULT = Path(__file__).parents[2] / "src/arrears/strategies/default_cn.yaml"


def test_wilson_interval_matches_the_textbook() -> None:
    i = wilson(5, 10)
    assert i is not None
    assert (round(i.value, 4), round(i.low, 4), round(i.high, 4)) == (0.5, 0.2366, 0.7634)
    assert wilson(0, 0) is None
    zero = wilson(0, 20)
    assert zero is not None and zero.low == 0.0 and 0.16 < zero.high < 0.17
    m = mean_interval([0, 10, 20])
    assert (
        m is not None
        and m.value == 10
        and round(m.high - m.value, 3) == round(1.96 * 10 / 3**0.5, 3)
    )


@pytest.fixture
def demo(store: Engine, tmp_path: Path) -> Engine:
    return build_desk_store(store.url.render_as_string(hide_password=False), tmp_path, 120)


def _arms(tmp_path: Path) -> Path:
    """The default strategy with a challenger (a copy) taking half the accounts."""
    text = DEFAULT.read_text(encoding="utf-8")
    (tmp_path / "challenger.yaml").write_text(text.replace("name: default_cn", "name: fast"))
    champion = text.replace(
        "salt: default_cn\n",
        "salt: default_cn\nchallengers:\n  - {strategy: challenger.yaml, share: 0.5, name: fast}\n",
    )
    path = tmp_path / "champion.yaml"
    path.write_text(champion, encoding="utf-8")
    return path


def test_each_arm_against_an_independent_count(demo: Engine, tmp_path: Path) -> None:
    arms = load_arms(_arms(tmp_path))
    with demo.connect() as conn:
        dates = sorted(r[0] for r in conn.execute(sa.select(t.status_history.c.as_of).distinct()))
        start = max(x for x in dates if x <= AS_OF - timedelta(days=28))
        rows = conn.execute(
            sa.select(
                t.status_history.c.borrower_id,
                t.status_history.c.as_of,
                t.status_history.c.dpd,
                t.status_history.c.paid_off,
            ).where(t.status_history.c.as_of.in_([start, AS_OF]))
        ).all()
        pays = conn.execute(
            sa.select(
                t.loans.c.borrower_id, t.payments.c.amount_minor, t.payments.c.paid_on
            ).join_from(t.payments, t.loans, t.payments.c.loan_id == t.loans.c.loan_id)
        ).all()
        figures = arm_report(conn, arms, start, AS_OF, "Asia/Shanghai")
    from arrears.domain.strategy import arm_of

    worst: dict[tuple[str, date], int] = {}
    unpaid: set[str] = set()
    for b, day, dpd, paid_off in rows:
        if not paid_off:
            worst[(b, day)] = max(worst.get((b, day), 0), dpd)
            if day == start:
                unpaid.add(b)
    shares = [(a.name, a.share) for a in arms]
    by_arm: dict[str, list[str]] = {}
    for b in sorted(unpaid):
        by_arm.setdefault(arm_of(b, shares, "default_cn"), []).append(b)
    assert set(by_arm) == {"fast", "champion"}
    got = {f.arm: f for f in figures}
    for name, members in by_arm.items():
        f = got[name]
        late = [b for b in members if worst.get((b, start), 0) > 0]
        cured = [b for b in late if worst.get((b, AS_OF), 0) == 0]
        collected = sum(a for b, a, on in pays if b in set(members) and start < on <= AS_OF)
        assert (f.accounts, f.delinquent_at_start, f.cured) == (len(members), len(late), len(cured))
        assert f.collected_minor == collected
    assert sum(f.accounts for f in figures) == len(unpaid)


def test_contacts_are_counted_in_the_lenders_days(demo: Engine, tmp_path: Path) -> None:
    arms = load_arms()
    zone = ZoneInfo("Asia/Shanghai")
    with demo.connect() as conn:
        start = max(
            r[0]
            for r in conn.execute(sa.select(t.status_history.c.as_of).distinct())
            if r[0] < AS_OF
        )
        borrower = conn.execute(
            sa.select(t.status_history.c.borrower_id)
            .where(t.status_history.c.as_of == start, t.status_history.c.paid_off.is_(False))
            .limit(1)
        ).scalar_one()
        before = arm_report(conn, arms, start, AS_OF, "Asia/Shanghai")[0].contacts
    inside = datetime.combine(AS_OF, time(23, 30), zone)  # the last lender day of the period
    outside = datetime.combine(AS_OF + timedelta(days=1), time(0, 30), zone)
    with demo.begin() as conn:
        for at in (inside, outside):
            conn.execute(
                sa.insert(d.contact_attempts).values(
                    borrower_id=borrower,
                    channel="phone",
                    answered=False,
                    right_party=False,
                    outcome="no_answer",
                    recorded_by="collector1",
                    at=at.astimezone(UTC),
                    created_at=at.astimezone(UTC),
                )
            )
    with demo.connect() as conn:
        assert arm_report(conn, arms, start, AS_OF, "Asia/Shanghai")[0].contacts == before + 1
        with pytest.raises(ValidationError, match="no cycle"):
            arm_report(conn, arms, start, AS_OF + timedelta(days=3), "Asia/Shanghai")
