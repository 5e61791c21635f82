"""The ``arrears`` command line: thin commands over the same services the web app uses."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from arrears.bootstrap import App, build_app
from arrears.cli_actions import register as register_actions
from arrears.cli_visits import register as register_visits
from arrears.domain.errors import ArrearsError

__all__ = ["main"]

P = ParamSpec("P")
R = TypeVar("R")

cli = typer.Typer(
    help="arrears: debt collection and recovery for banks and consumer lenders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
bench_cli = typer.Typer(help="Reproducible performance runs.", no_args_is_help=True)
cli.add_typer(bench_cli, name="bench")
err = Console(stderr=True)
out = Console()


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn errors a user can cause into a clear message and exit status 2."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ArrearsError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from exc

    return wrapper


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        err.print(f"[bold red]error:[/] {option}: {value!r} is not a date (use YYYY-MM-DD)")
        raise typer.Exit(2) from None


def _as_of(app: App, value: str | None) -> date:
    return _parse_date(value, "--as-of") if value else app.clock.today()


AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Business date YYYY-MM-DD (default: today)")
]


@cli.command("import")
@user_errors
def import_cmd(
    folder: Annotated[Path, typer.Argument(help="Interchange folder (CSV or Parquet)")],
) -> None:
    """Import an interchange folder into the store: all or nothing."""
    from arrears.services.importing import import_book

    app = build_app()
    report = import_book(app.db(), folder, lender_tz=app.settings.lender_timezone, clock=app.clock)
    out.print(report.summary())


@cli.command("cycle")
@user_errors
def cycle_cmd(as_of: AsOf = None) -> None:
    """Run the daily cycle: statuses and history for the date (incremental, safe to re-run)."""
    from arrears.jobs.cycle import run_cycle
    from arrears.jobs.progress import rich_progress

    app = build_app()
    day = _as_of(app, as_of)
    with rich_progress() as progress:
        result = run_cycle(
            app.db(), day, now=app.clock.now(), progress=progress, products=app.products()
        )
    out.print(result.summary())


@cli.command("status")
@user_errors
def status_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="status.csv or status.parquet")],
    as_of: AsOf = None,
    book: Annotated[
        Path | None, typer.Option("--book", help="Evaluate this folder directly, no store")
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb or spark")] = "duckdb",
) -> None:
    """Write account statuses as of a date, from the store or straight from a book folder."""
    from arrears.engine.status_file import write_status

    app = build_app()
    day = _as_of(app, as_of)
    if engine not in ("duckdb", "spark"):
        err.print(f"[bold red]error:[/] --engine: {engine!r} is not one of duckdb, spark")
        raise typer.Exit(2)
    if book is not None:
        from arrears.services.book_status import status_of_book_folder

        table = status_of_book_folder(
            book,
            day,
            engine=engine,
            lender_tz=app.settings.lender_timezone,
            spark_master=app.settings.spark_master,
            products=app.products(),
        )
    else:
        from arrears.jobs.cycle import status_from_store

        table = status_from_store(app.db(), day, app.products())
    write_status(table, out_path)
    out.print(f"{table.num_rows} loan(s) as of {day.isoformat()} → {out_path}")


@cli.command("demo")
@user_errors
def demo_cmd(
    borrowers: Annotated[int, typer.Option(min=10, help="How many borrowers")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same book)")] = 1,
    as_of: AsOf = None,
    password: Annotated[
        str | None,
        typer.Option(help="Password of every demo user (default: a random one, printed)"),
    ] = None,
    serve: Annotated[bool, typer.Option(help="Serve the web app at the end")] = True,
) -> None:
    """Build a realistic demo book, import it, cycle its history, print a portfolio summary,
    create the demo users and serve the app."""
    import secrets

    from arrears.jobs.demo import run_demo
    from arrears.services.demo_desk import (
        set_up_demo_field_team,
        set_up_demo_people,
        set_up_demo_promises,
    )

    app = build_app()
    run_demo(
        app.db(),
        data_dir=app.settings.data_dir,
        lender_tz=app.settings.lender_timezone,
        clock=app.clock,
        borrowers=borrowers,
        seed=seed,
        as_of=_as_of(app, as_of),
        console=out,
    )
    chosen = password or secrets.token_urlsafe(9)
    people = set_up_demo_people(app.db(), chosen, app.clock.now())
    per = ", ".join(
        f"{u} {n}" for u, n in {**people.collectors.per_user, **people.field.per_user}.items()
    )
    field = set_up_demo_field_team(app.db(), chosen, app.clock.now())
    promised = set_up_demo_promises(app.db(), app.clock.now(), _as_of(app, as_of))
    out.print(f"demo users: {', '.join(people.users)}, field2; accounts assigned: {per}")
    out.print(
        f"field team {field.team_id} ({' + '.join(field.agents)}): {field.requests} visit "
        "request(s) queued; plan a day: arrears visits plan --day YYYY-MM-DD"
    )
    if promised:
        out.print("promises to pay: " + ", ".join(f"{n} {s}" for s, n in sorted(promised.items())))
    out.print(
        "password of every demo user: "
        + ("(as given with --password)" if password else f"[bold]{escape(chosen)}[/]")
    )
    if serve:
        _serve(app, app.settings.host, app.settings.port, workers=1)


def _serve(app: App, host: str, port: int, workers: int) -> None:
    import uvicorn

    from arrears.web.app import web_app

    out.print(f"serving on http://{host}:{port}  (Ctrl+C stops)")
    if workers > 1:
        uvicorn.run(
            "arrears.web.app:from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
    else:
        uvicorn.run(web_app(app), host=host, port=port, log_level="warning")


@cli.command("serve")
@user_errors
def serve_cmd(
    host: Annotated[
        str | None, typer.Option(help="Address (default ARREARS_HOST, 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ARREARS_PORT, 8000)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Serve the web app and the REST API."""
    app = build_app()
    app.db()  # migrate and check the store before taking requests
    _serve(app, host or app.settings.host, port or app.settings.port, workers)


@cli.command("user")
@user_errors
def user_cmd(
    username: str,
    role: Annotated[str, typer.Option(help="manager, collector, field_agent, compliance, admin")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    display_name: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a user (the first admin, typically)."""
    from arrears.domain.errors import Issue, ValidationError
    from arrears.domain.people import Role
    from arrears.services.auth import create_user

    try:
        chosen = Role(role)
    except ValueError:
        raise ValidationError(
            [Issue("command line", None, "--role", f"unknown role {role!r}")]
        ) from None
    app = build_app()
    with app.db().begin() as conn:
        create_user(conn, username, password, chosen, app.clock.now(), display_name)
    out.print(f"user {escape(username)} ({chosen.value}) created")


@bench_cli.command("cycle")
@user_errors
def bench_cycle_cmd(
    loans: Annotated[int, typer.Option(min=100, help="Loans in the generated book")] = 1_000_000,
    workdir: Annotated[Path, typer.Option(help="Where the book is generated (and reused)")] = Path(
        "var/bench"
    ),
) -> None:
    """Full status and one incremental day on a generated Parquet book; wall time, peak memory."""
    from arrears.benchmarks.cycle import main as bench_main

    bench_main(loans=loans, workdir=workdir, console=out)


@bench_cli.command("web")
@user_errors
def bench_web_cmd(
    loans: Annotated[int, typer.Option(min=100, help="Loans in the generated book")] = 1_000_000,
    workdir: Annotated[
        Path, typer.Option(help="Book, PostgreSQL cluster and figures (all reused)")
    ] = Path("var/bench"),
    rate: Annotated[float, typer.Option(min=1, help="Requests per second (open loop)")] = 300,
    seconds: Annotated[float, typer.Option(min=1, help="Measured seconds (after warm-up)")] = 30,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="uvicorn worker processes (3: best measured on two cores, docs/benchmarks.md)",
        ),
    ] = 3,
    threads: Annotated[
        int, typer.Option(min=1, help="Request threads per worker (pages other than the desk's)")
    ] = 2,
    pg_url: Annotated[
        str | None, typer.Option(help="Use this PostgreSQL server instead of starting one")
    ] = None,
    cpu: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="No load: N requests per page in one process, CPU and statements per request",
        ),
    ] = None,
) -> None:
    """Work queue and account view latency (p50/p99) under load, book in PostgreSQL."""
    from arrears.benchmarks.web import main as bench_web_main

    bench_web_main(
        loans=loans,
        workdir=workdir,
        rate=rate,
        seconds=seconds,
        workers=workers,
        threads=threads,
        pg_url=pg_url,
        console=out,
        cpu_requests=cpu,
    )


@bench_cli.command("routing")
@user_errors
def bench_routing_cmd(
    instances: Annotated[
        list[Path], typer.Option("--instances", help="Folder of Solomon-format files (repeatable)")
    ],
    seconds: Annotated[float, typer.Option(min=0.1, help="Solver time per instance")] = 10.0,
    csv_out: Annotated[Path, typer.Option("--out", help="CSV of the results")] = Path(
        "var/bench/routing.csv"
    ),
    pattern: Annotated[str, typer.Option(help="Glob for instance files")] = "*.txt",
    limit: Annotated[int | None, typer.Option(min=1, help="Solve only the first N")] = None,
) -> None:
    """VRPTW benchmark (Solomon, Gehring-Homberger): vehicles, distance, gap to bks.csv."""
    from arrears.benchmarks.routing import main as bench_routing_main

    bench_routing_main(
        folders=instances, seconds=seconds, out=csv_out, pattern=pattern, limit=limit, console=out
    )


compliance_cli = typer.Typer(help="The compliance gate: what-if decisions.", no_args_is_help=True)
cli.add_typer(compliance_cli, name="compliance")


@compliance_cli.command("explain")
@user_errors
def compliance_explain_cmd(
    attempt: Annotated[Path, typer.Option("--attempt", help="attempt.json: the proposed contact")],
    history: Annotated[
        Path | None, typer.Option("--history", help="history.jsonl: past attempts and events")
    ] = None,
    pack: Annotated[
        str | None, typer.Option("--pack", help="CN or US (default: the attempt's, else CN)")
    ] = None,
) -> None:
    """Print the gate's decision (JSON) for a proposed contact, given its history."""
    import json

    from arrears.services.compliance_explain import explain

    decision = explain(attempt, history, pack)
    typer.echo(json.dumps(decision, ensure_ascii=False, indent=2))


register_actions(cli, bench_cli, user_errors)
register_visits(cli, user_errors)


def main() -> None:
    sys.exit(cli())
