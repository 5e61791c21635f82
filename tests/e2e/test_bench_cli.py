"""`arrears bench cycle` end to end on a small book: it runs, and its self-check holds."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from arrears.cli import cli


def test_bench_cycle_runs_and_incremental_equals_full(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["bench", "cycle", "--loans", "3000", "--workdir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "bench-cycle-3000.json").read_text())
    assert report["incremental_equals_full"] is True
    inc = report["incremental"]
    assert inc["recomputed"] + inc["carried"] == 3000
    assert inc["carried"] > inc["recomputed"]  # most loans advance from their state
    assert report["full"]["rows"] == 3000
