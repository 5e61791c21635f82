"""`arrears bench routing` end to end on two Solomon instances (1 s each): the CSV has a row
per instance, every solution passes the independent float check, and the gap is computed
against bks.csv. Bad input is reported with its file and line."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arrears.benchmarks.routing import Instance
from arrears.cli import cli

# The shared benchmark data lives next to the repository (../shared/data), not in it.
SOLOMON = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "solomon" / "instances"

needs_data = pytest.mark.skipif(
    not (SOLOMON / "C101.txt").is_file(),
    reason=f"Solomon instances not found at {SOLOMON} (../shared/data is absent)",
)


@needs_data
def test_bench_routing_two_instances(tmp_path: Path) -> None:
    out = tmp_path / "routing.csv"
    result = CliRunner().invoke(
        cli,
        [
            "bench", "routing",
            "--instances", str(SOLOMON),
            "--pattern", "[CR]10[1].txt",
            "--seconds", "1",
            "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [r["instance"] for r in rows] == ["C101", "R101"]
    for r in rows:
        assert r["feasible"] == "yes"
        assert r["customers"] == "100"
        assert r["class"] == r["instance"][:2]
        vehicles, bks_vehicles = int(r["vehicles"]), int(r["bks_vehicles"])
        distance, bks = float(r["distance"]), float(r["bks_distance"])
        assert vehicles >= bks_vehicles - 1 and vehicles <= 25
        # The gap is what the columns say it is.
        assert float(r["gap_pct"]) == pytest.approx((distance - bks) / bks * 100, abs=0.01)
    assert "ALL" in result.output


def test_bench_routing_names_file_and_line_of_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "BAD1.txt"
    bad.write_text(
        "BAD1\n\nVEHICLE\nNUMBER     CAPACITY\n  2         50\n\nCUSTOMER\n"
        "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
        "    0      40         50          0          0       1236          0\n"
        "    1      45         68         10        912        967\n"
    )
    result = CliRunner().invoke(
        cli, ["bench", "routing", "--instances", str(tmp_path), "--seconds", "0.2",
              "--out", str(tmp_path / "o.csv")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert f"{bad}:11" in result.output
    assert "expected 7 columns" in result.output


TINY = (
    "TINY1\n\nVEHICLE\nNUMBER     CAPACITY\n  2         15\n\nCUSTOMER\n"
    "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n"
    "    0       0          0          0          0        100          0\n"
    "    1       3          4         10          0         10          1\n"
    "    2       6          8         10          0         20          1\n"
)


def test_float_checker_catches_each_violation(tmp_path: Path) -> None:
    from arrears.benchmarks.routing import check_solution, read_instance, route_distance

    path = tmp_path / "TINY1.txt"
    path.write_text(TINY)
    inst = read_instance(path)
    assert inst.customers == 2 and inst.capacity == 15
    assert check_solution(inst, [[1], [2]]) == []
    assert route_distance(inst, [[1], [2]]) == pytest.approx(10 + 20)
    assert any("load 20 > capacity" in m for m in check_solution(inst, [[1, 2]]))
    # 2 first: at 10, then 1 at 10 + 1 + 5 = 16 > due 10.
    late = check_solution(_with(inst, capacity=99), [[2, 1]])
    assert any("customer 1 starts" in m for m in late)
    assert any("not visited" in m for m in check_solution(inst, [[1]]))
    assert any("routes > fleet" in m for m in check_solution(_with(inst, vehicles=1), [[1], [2]]))
    short_day = _with(inst, due=(15.0, 10.0, 20.0))  # route 2 is back at 11 + 10 = 21 > 15
    assert any("back at depot" in m for m in check_solution(short_day, [[1], [2]]))


def _with(inst: Instance, **kw: object) -> Instance:
    return dataclasses.replace(inst, **kw)  # type: ignore[arg-type]
