"""The strategy editor: preview through the gate, save versions, the batch runs the newest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from arrears.adapters.db import compliance_tables as ct
from arrears.adapters.db import desk_tables as d
from arrears.cli import cli
from arrears.jobs.actions import propose_actions
from arrears.services.strategy_files import load_arms
from arrears.services.strategy_store import active_arms
from fixtures.web import AS_OF, build_desk_store, csrf_of, logged_in, make_web

DEFAULT = (Path(__file__).parents[3] / "src/arrears/strategies/default_cn.yaml").read_text(
    encoding="utf-8"
)


@pytest.fixture
def desk(store: Engine, tmp_path: Path) -> Engine:
    return build_desk_store(store.url.render_as_string(hide_password=False), tmp_path, 150)


def test_preview_counts_what_the_batch_would_propose(desk: Engine) -> None:
    client = logged_in(make_web(desk), "manager")
    page = client.get("/strategy")
    assert page.status_code == 200
    assert "name: default_cn" in page.text  # the shipped default, until one is saved
    r = client.post("/strategy/preview", data={"csrf_token": csrf_of(page.text), "body": DEFAULT})
    assert r.status_code == 200, r.text
    expected = propose_actions(desk, AS_OF, load_arms(), "Asia/Shanghai")
    assert expected.proposals.num_rows > 0, "the demo book should propose actions"
    assert f'data-total="{expected.proposals.num_rows}"' in r.text
    for (segment, action), n in expected.counts("segment", "action"):
        row = f'data-segment="{segment}" data-action="{action}">'
        cells = f'<td>{segment}</td><td>{action}</td><td class="num">{n}<'
        assert row + cells in r.text
    with desk.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ct.strategy_versions)).scalar() == 0


def test_a_bad_strategy_names_line_and_field_and_saves_nothing(desk: Engine) -> None:
    client = logged_in(make_web(desk), "manager")
    csrf = csrf_of(client.get("/strategy").text)
    bad = DEFAULT.replace("      - offset: 121\n", "      - offset: soon\n", 1)
    for action in ("/strategy/preview", "/strategy"):
        r = client.post(action, data={"csrf_token": csrf, "body": bad})
        assert r.status_code == 422
        line = bad.splitlines().index("      - offset: soon") + 1
        assert f"strategy:{line}" in r.text and "offset" in r.text
        assert "offset: soon" in r.text  # the text typed is kept in the editor
    with desk.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ct.strategy_versions)).scalar() == 0


def test_saved_versions_run_in_the_batch_and_are_audited(
    desk: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = logged_in(make_web(desk), "manager")
    csrf = csrf_of(client.get("/strategy").text)
    # Version 2 drops the segment that proposes most today.
    before = propose_actions(desk, AS_OF, load_arms(), "Asia/Shanghai").counts("segment")
    dropped = before[0][0][0]
    start = DEFAULT.index(f"  - name: {dropped}\n")
    end = DEFAULT.find("  - name:", start + 10)
    v2 = DEFAULT[:start] + (DEFAULT[end:] if end >= 0 else "")
    v2 = v2.replace('version: "1"', 'version: "2"')
    r = client.post(
        "/strategy",
        data={"csrf_token": csrf, "body": v2, "note": "no reminders"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    again = client.post("/strategy", data={"csrf_token": csrf, "body": v2})
    assert again.status_code == 422 and "new version" in again.text
    page = client.get("/strategy?saved=1")
    assert 'id="strategy-saved"' in page.text and "no reminders" in page.text
    with desk.connect() as conn:
        arms, source = active_arms(conn)
        audit = conn.execute(
            select(d.audit_log.c.subject_id).where(d.audit_log.c.action == "save_strategy")
        ).scalar_one()
    assert source == "default_cn v2" and audit == "default_cn v2"
    after = propose_actions(desk, AS_OF, arms, "Asia/Shanghai").counts("segment")
    assert all(k != (dropped,) for k, _ in after)
    assert after, "the other segments still propose (accounts fall to the next match)"
    monkeypatch.setenv("ARREARS_DATABASE_URL", desk.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARREARS_DATA_DIR", str(tmp_path))
    res = CliRunner().invoke(cli, ["actions", "--as-of", AS_OF.isoformat(), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "strategy: default_cn v2" in res.output
    if desk.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), desk.begin() as conn:
            conn.execute(text("DELETE FROM strategy_versions"))


def test_the_experiment_page_shows_each_arm(desk: Engine) -> None:
    from datetime import timedelta

    from arrears.services.experiment import arm_report, experiment_dates

    client = logged_in(make_web(desk), "manager")
    page = client.get("/strategy/experiment")
    assert page.status_code == 200
    with desk.connect() as conn:
        days = experiment_dates(conn)
        expected = arm_report(conn, load_arms(), days[-2], days[-1], "Asia/Shanghai")
    assert days[-1] == AS_OF and len(days) > 2
    [f] = expected  # the shipped default has no challenger
    assert f'data-arm="champion" data-accounts="{f.accounts}" data-cured="{f.cured}"' in page.text
    bad = client.get(f"/strategy/experiment?date_from={AS_OF}&date_to={AS_OF + timedelta(days=1)}")
    assert bad.status_code == 422 and "no cycle" in bad.text
    assert client.get("/strategy/experiment?date_from=soon").status_code == 422
    assert logged_in(make_web(desk), "collector1").get("/strategy/experiment").status_code == 403
