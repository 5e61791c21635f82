"""``arrears visits plan``: plan one day's door visits (the same service as the manager's
"Plan the day" button). Registered on the main command line by :func:`register`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["plan", "purge_evidence", "register"]

out = Console()
err = Console(stderr=True)
visits_cli = typer.Typer(help="Door visits: plan a day's routes.", no_args_is_help=True)


def plan(
    day: Annotated[
        str | None, typer.Option("--day", help="Day to plan YYYY-MM-DD (default: tomorrow)")
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(
            "--seconds", min=0.1, help="Solver time limit (default: ARREARS_VISIT_PLAN_SECONDS)"
        ),
    ] = None,
) -> None:
    """Choose and order each field team's visits for a day (fixed seed), ask the compliance
    gate for every stop, store the routes; print them and the visits left out with reasons."""
    from arrears.bootstrap import build_app
    from arrears.domain.compliance import pack_by_id
    from arrears.domain.people import Actor, ApiScope
    from arrears.engine.routing import PlannerSettings, SolverSettings
    from arrears.services import visits

    app = build_app()
    s = app.settings
    chosen = _day(day) if day else app.clock.today() + timedelta(days=1)
    actor = Actor("system:visits-cli", None, scopes=frozenset({ApiScope.READ_ACCOUNTS}))
    settings = PlannerSettings(SolverSettings(seconds=seconds or s.visit_plan_seconds, seed=1))
    with app.db().begin() as conn:
        outcome = visits.plan_visits(
            conn,
            actor,
            chosen,
            app.clock.now(),
            settings,
            s.lender_timezone,
            pack_by_id(s.compliance_pack),
        )
        view = visits.day_plan(conn, chosen)
    out.print(
        f"day {chosen.isoformat()}: {len(outcome.planned)} visit(s) planned, "
        f"{len(outcome.unplanned)} not planned; solver {outcome.seconds:.1f} s"
    )
    for r in view.routes:
        table = Table(title=f"{r.team_id} {r.team_name}{' (locked)' if r.locked else ''}")
        for col in ("#", "time", "visit", "account", "source"):
            table.add_column(col)
        for stop in r.stops:
            start = stop.planned_start.astimezone(_zone(s.lender_timezone))
            end = stop.planned_end.astimezone(_zone(s.lender_timezone))
            table.add_row(
                str(stop.seq),
                f"{start:%H:%M}-{end:%H:%M}",
                str(stop.visit_id),
                stop.borrower_id,
                stop.source,
            )
        out.print(table)
        km = (r.distance_m or 0) / 1000
        out.print(f"  {len(r.stops)} stop(s), {km:.1f} km, agents {', '.join(r.agents)}")
    reasons: dict[str, int] = {}
    for u in view.unplanned:
        reasons[u.code] = reasons.get(u.code, 0) + 1
    for code, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        out.print(f"  not planned, {code}: {n}")
    if outcome.problems:
        err.print(f"[bold red]plan check:[/] {len(outcome.problems)} problem(s)")
        for p in outcome.problems:
            err.print(f"  {p}")
        raise typer.Exit(1)


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        err.print(f"[bold red]error:[/] --day: {value!r} is not a date (use YYYY-MM-DD)")
        raise typer.Exit(2) from None


def purge_evidence(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Business date YYYY-MM-DD (default: today)")
    ] = None,
) -> None:
    """CN-R1: delete visit photos and audio whose retention ended before the date (the record
    of each, with its SHA-256, stays; every deletion is audited)."""
    from arrears.bootstrap import build_app
    from arrears.services.visit_record import purge_evidence as purge

    app = build_app()
    day = _day(as_of) if as_of else app.clock.today()
    with app.db().begin() as conn:
        ids = purge(conn, day, app.settings.resolved_evidence_dir(), app.clock.now())
    out.print(f"evidence purged as of {day.isoformat()}: {len(ids)} file(s)")


def register(cli: typer.Typer, user_errors: Callable[[Any], Any]) -> None:
    """Add ``visits plan`` and ``visits purge-evidence`` to the command line."""
    visits_cli.command("plan")(user_errors(plan))
    visits_cli.command("purge-evidence")(user_errors(purge_evidence))
    cli.add_typer(visits_cli, name="visits")
