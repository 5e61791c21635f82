"""``arrears bench routing``: the visit planner's solver on the Solomon VRPTW benchmark.

Reads Solomon-format files (Solomon's 100-customer set and Gehring & Homberger's larger ones),
solves each with the engine's solver configuration (:func:`arrears.engine.routing.solve_data`,
the same one the day planner uses: minimise vehicles, then distance), checks every solution
independently here with floating-point times (each customer exactly once, capacity, time
windows, return to the depot by its due time, fleet size), recomputes the distance with
unrounded Euclidean distances, compares it with ``bks.csv`` (in the instances folder or its
parent) and writes a CSV plus a summary by class.

Gap = (distance − BKS distance) / BKS distance × 100; the summary's mean gap is taken over the
instances that reach the best-known vehicle count (the hierarchical objective makes the
distance of a solution with more vehicles not comparable).
"""

from __future__ import annotations

import csv
import itertools
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from arrears.domain.errors import Issue, ValidationError
from arrears.engine.routing import (
    BENCH_SCALE,
    SolverSettings,
    route_client_indices,
    solve_data,
    vrptw_data,
)

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "BenchRow",
    "Instance",
    "check_solution",
    "instance_class",
    "main",
    "read_bks",
    "read_instance",
    "run",
    "summarise",
]

CSV_COLUMNS = [
    "instance",
    "class",
    "customers",
    "vehicles",
    "distance",
    "seconds",
    "bks_vehicles",
    "bks_distance",
    "gap_pct",
    "feasible",
]
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class Instance:
    """A Solomon-format instance; row 0 is the depot."""

    name: str
    vehicles: int
    capacity: int
    x: tuple[float, ...]
    y: tuple[float, ...]
    demand: tuple[int, ...]
    ready: tuple[float, ...]
    due: tuple[float, ...]
    service: tuple[float, ...]

    @property
    def customers(self) -> int:
        return len(self.x) - 1

    def dist(self, i: int, j: int) -> float:
        return math.hypot(self.x[i] - self.x[j], self.y[i] - self.y[j])


def read_instance(path: Path) -> Instance:
    """Parse a Solomon-format file; every problem is reported with the file and line."""
    issues: list[Issue] = []
    src = str(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError([Issue(src, None, None, f"cannot read: {exc}")]) from exc

    def fail(line: int | None, reason: str) -> ValidationError:
        return ValidationError([*issues, Issue(src, line, None, reason)])

    name = next((ln.strip() for ln in lines if ln.strip()), "")
    if not name:
        raise fail(None, "empty file")
    upper = [ln.strip().upper() for ln in lines]
    try:
        v_at = upper.index("VEHICLE")
        c_at = upper.index("CUSTOMER")
    except ValueError:
        raise fail(None, "no VEHICLE or CUSTOMER section (not Solomon format)") from None
    fleet_line = next(
        (i for i in range(v_at + 1, c_at) if upper[i] and upper[i][0].isdigit()), None
    )
    if fleet_line is None:
        raise fail(v_at + 1, "no 'NUMBER CAPACITY' values after VEHICLE")
    parts = lines[fleet_line].split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise fail(fleet_line + 1, f"expected two integers (number, capacity): {parts}")
    vehicles, capacity = int(parts[0]), int(parts[1])
    if vehicles < 1 or capacity < 1:
        raise fail(fleet_line + 1, "vehicle number and capacity must be positive")

    rows: list[tuple[float, ...]] = []
    expected = 0  # the customer number the next data row must carry (0 = the depot)
    for i in range(c_at + 1, len(lines)):
        text = lines[i].strip()
        if not text or not (text[0].isdigit() or text[0] in "+-."):
            continue  # the column header and blank lines
        expected += 1
        fields = text.split()
        if len(fields) != 7:
            issues.append(Issue(src, i + 1, None, f"expected 7 columns, found {len(fields)}"))
            continue
        try:
            vals = tuple(float(f) for f in fields)
        except ValueError:
            issues.append(Issue(src, i + 1, None, f"not a number in {fields}"))
            continue
        if not all(math.isfinite(v) for v in vals):
            issues.append(Issue(src, i + 1, None, "values must be finite"))
            continue
        if vals[0] != expected - 1:
            issues.append(
                Issue(src, i + 1, "CUST NO.", f"expected {expected - 1}, found {fields[0]}")
            )
            continue
        if vals[3] < 0 or vals[3] != int(vals[3]) or vals[6] < 0 or vals[4] > vals[5]:
            issues.append(
                Issue(
                    src,
                    i + 1,
                    None,
                    "demand must be a non-negative integer, service "
                    "time non-negative and ready time <= due date",
                )
            )
            continue
        rows.append(vals)
    if len(rows) < 2 and not issues:
        issues.append(Issue(src, c_at + 1, None, "needs a depot row and at least one customer"))
    if issues:
        raise ValidationError(issues)
    return Instance(
        name=name,
        vehicles=vehicles,
        capacity=capacity,
        x=tuple(r[1] for r in rows),
        y=tuple(r[2] for r in rows),
        demand=tuple(int(r[3]) for r in rows),
        ready=tuple(r[4] for r in rows),
        due=tuple(r[5] for r in rows),
        service=tuple(r[6] for r in rows),
    )


def read_bks(folder: Path) -> dict[str, tuple[int, float]]:
    """``bks.csv`` (instance, vehicles, distance, …) from ``folder`` or its parent; keys are
    upper-cased instance names. Empty when there is none."""
    for candidate in (folder / "bks.csv", folder.parent / "bks.csv"):
        if candidate.is_file():
            out: dict[str, tuple[int, float]] = {}
            with candidate.open(newline="", encoding="utf-8") as fh:
                for n, row in enumerate(csv.DictReader(fh), start=2):
                    try:
                        out[row["instance"].strip().upper()] = (
                            int(row["vehicles"]),
                            float(row["distance"]),
                        )
                    except (KeyError, ValueError, AttributeError) as exc:
                        raise ValidationError(
                            [Issue(str(candidate), n, None, f"bad BKS row: {exc}")]
                        ) from exc
            return out
    return {}


def instance_class(name: str) -> str:
    """``C101`` → ``C1``, ``RC208`` → ``RC2``, ``rc1_2_3`` → ``RC1``; else the name."""
    m = re.match(r"(RC|R|C)(\d)", name.upper())
    return f"{m.group(1)}{m.group(2)}" if m else name.upper()


def check_solution(inst: Instance, routes: Sequence[Sequence[int]]) -> list[str]:
    """Independent float check of routes of customer numbers (1..n): every customer once,
    capacity, service start within [ready, due], return to the depot by its due time, and
    at most ``inst.vehicles`` routes."""
    out: list[str] = []
    seen: dict[int, int] = {}
    used = [r for r in routes if r]
    if len(used) > inst.vehicles:
        out.append(f"{len(used)} routes > fleet of {inst.vehicles}")
    for k, route in enumerate(used):
        load = 0
        t, prev = inst.ready[0], 0
        for c in route:
            if not 1 <= c <= inst.customers:
                out.append(f"route {k}: no customer {c}")
                continue
            if c in seen:
                out.append(f"customer {c} on routes {seen[c]} and {k}")
            seen[c] = k
            load += inst.demand[c]
            start = max(t + inst.dist(prev, c), inst.ready[c])
            if start > inst.due[c] + _EPS:
                out.append(f"route {k}: customer {c} starts {start:.4f} > due {inst.due[c]}")
            t, prev = start + inst.service[c], c
        back = t + inst.dist(prev, 0)
        if back > inst.due[0] + _EPS:
            out.append(f"route {k}: back at depot {back:.4f} > due {inst.due[0]}")
        if load > inst.capacity:
            out.append(f"route {k}: load {load} > capacity {inst.capacity}")
    missing = [c for c in range(1, inst.customers + 1) if c not in seen]
    if missing:
        out.append(f"{len(missing)} customer(s) not visited, e.g. {missing[:5]}")
    return out


def route_distance(inst: Instance, routes: Iterable[Sequence[int]]) -> float:
    total = 0.0
    for route in routes:
        if route:
            path = [0, *route, 0]
            total += sum(inst.dist(a, b) for a, b in itertools.pairwise(path))
    return total


@dataclass(frozen=True, slots=True)
class BenchRow:
    instance: str
    klass: str
    customers: int
    vehicles: int
    distance: float
    seconds: float
    bks_vehicles: int | None
    bks_distance: float | None
    feasible: bool
    problems: tuple[str, ...] = ()

    @property
    def gap_pct(self) -> float | None:
        if self.bks_distance is None or not self.bks_distance:
            return None
        return (self.distance - self.bks_distance) / self.bks_distance * 100

    @property
    def bks_vehicles_met(self) -> bool:
        return (
            self.bks_vehicles is not None and self.feasible and self.vehicles <= self.bks_vehicles
        )

    def csv_row(self) -> list[str]:
        gap = self.gap_pct
        return [
            self.instance,
            self.klass,
            str(self.customers),
            str(self.vehicles),
            f"{self.distance:.2f}",
            f"{self.seconds:.2f}",
            "" if self.bks_vehicles is None else str(self.bks_vehicles),
            "" if self.bks_distance is None else f"{self.bks_distance:.2f}",
            "" if gap is None else f"{gap:.2f}".replace("-0.00", "0.00"),
            "yes" if self.feasible else "no",
        ]


def solve_instance(
    inst: Instance, settings: SolverSettings, bks: tuple[int, float] | None
) -> BenchRow:
    data = vrptw_data(
        inst.x,
        inst.y,
        inst.demand,
        inst.ready,
        inst.due,
        inst.service,
        vehicles=inst.vehicles,
        capacity=inst.capacity,
        scale=BENCH_SCALE,
    )
    t0 = time.perf_counter()
    solution = solve_data(data, settings)
    seconds = time.perf_counter() - t0
    # PyVRP client index k is customer k + 1 (row 0 is the depot).
    routes = [[c + 1 for c in order] for _, order in route_client_indices(solution)]
    problems = check_solution(inst, routes)
    return BenchRow(
        instance=inst.name,
        klass=instance_class(inst.name),
        customers=inst.customers,
        vehicles=sum(1 for r in routes if r),
        distance=route_distance(inst, routes),
        seconds=seconds,
        bks_vehicles=bks[0] if bks else None,
        bks_distance=bks[1] if bks else None,
        feasible=not problems,
        problems=tuple(problems),
    )


def _files(folders: Sequence[Path], pattern: str) -> list[Path]:
    issues = [Issue(str(f), None, None, "not a folder") for f in folders if not f.is_dir()]
    if issues:
        raise ValidationError(issues)
    found = [p for f in folders for p in sorted(f.glob(pattern)) if p.is_file()]
    return [p for p in found if p.name.lower() != "bks.csv" and p.suffix.lower() == ".txt"]


def _natural(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.stem)]


def run(
    folders: Sequence[Path],
    settings: SolverSettings,
    *,
    pattern: str = "*.txt",
    limit: int | None = None,
    progress: Console | None = None,
) -> list[BenchRow]:
    files = sorted(_files(folders, pattern), key=lambda p: (str(p.parent), _natural(p)))
    if limit is not None:
        files = files[:limit]
    instances = [(p, read_instance(p)) for p in files]  # parse all first: fail fast
    bks_by_folder = {f: read_bks(f) for f in {p.parent for p in files}}
    rows: list[BenchRow] = []
    for path, inst in instances:
        bks = bks_by_folder[path.parent].get(inst.name.upper()) or bks_by_folder[path.parent].get(
            path.stem.upper()
        )
        row = solve_instance(inst, settings, bks)
        rows.append(row)
        if progress is not None:
            gap = row.gap_pct
            gap_text = "-" if gap is None else f"{gap:6.2f}%".replace("-0.00", " 0.00")
            progress.print(
                f"{row.instance:<10} {row.vehicles:>3} veh {row.distance:>10.2f}  "
                f"BKS {row.bks_vehicles or '-':>3} {row.bks_distance or 0:>10.2f}  "
                f"gap {gap_text}  {row.seconds:5.1f}s"
                f"{'' if row.feasible else '  INFEASIBLE: ' + '; '.join(row.problems[:3])}",
                highlight=False,
            )
    return rows


@dataclass(frozen=True, slots=True)
class ClassSummary:
    klass: str
    customers: int
    instances: int
    with_bks: int
    bks_vehicles_met: int
    mean_gap_met: float | None
    feasible: int


def summarise(rows: Sequence[BenchRow]) -> list[ClassSummary]:
    """By (class, customers), plus an ``ALL`` line per customer count."""
    groups: dict[tuple[str, int], list[BenchRow]] = {}
    for r in rows:
        groups.setdefault((r.klass, r.customers), []).append(r)
    for n in sorted({r.customers for r in rows}):
        groups[("ALL", n)] = [r for r in rows if r.customers == n]
    out = []
    for (klass, n), rs in sorted(
        groups.items(), key=lambda kv: (kv[0][1], kv[0][0] == "ALL", kv[0][0])
    ):
        met = [r for r in rs if r.bks_vehicles_met]
        gaps = [g for r in met if (g := r.gap_pct) is not None]
        out.append(
            ClassSummary(
                klass=klass,
                customers=n,
                instances=len(rs),
                with_bks=sum(1 for r in rs if r.bks_vehicles is not None),
                bks_vehicles_met=len(met),
                mean_gap_met=sum(gaps) / len(gaps) if gaps else None,
                feasible=sum(1 for r in rs if r.feasible),
            )
        )
    return out


def write_csv(rows: Sequence[BenchRow], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        w.writerows(r.csv_row() for r in rows)


def main(
    *,
    folders: Sequence[Path],
    seconds: float,
    out: Path,
    pattern: str = "*.txt",
    limit: int | None = None,
    seed: int = 1,
    console: Console,
) -> list[BenchRow]:
    from rich.table import Table

    settings = SolverSettings(seconds=seconds, seed=seed)
    rows = run(folders, settings, pattern=pattern, limit=limit, progress=console)
    if not rows:
        raise ValidationError(
            [Issue(", ".join(map(str, folders)), None, None, f"no instance matches {pattern!r}")]
        )
    write_csv(rows, out)
    table = Table(title=f"bench routing: {seconds:g} s per instance, seed {seed}")
    for col in (
        "class",
        "n",
        "instances",
        "with BKS",
        "BKS vehicles",
        "share",
        "mean gap %",
        "feasible",
    ):
        table.add_column(col, justify="left" if col == "class" else "right")
    for s in summarise(rows):
        share = f"{s.bks_vehicles_met / s.with_bks:.0%}" if s.with_bks else "-"
        gap = "-" if s.mean_gap_met is None else f"{s.mean_gap_met:.2f}".replace("-0.00", "0.00")
        table.add_row(
            s.klass,
            str(s.customers),
            str(s.instances),
            str(s.with_bks),
            str(s.bks_vehicles_met),
            share,
            gap,
            f"{s.feasible}/{s.instances}",
        )
    console.print(table)
    console.print(f"CSV: {out}")
    return rows
