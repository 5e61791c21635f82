"""``arrears actions`` and ``arrears bench strategy``: the strategy's proposals for a day.

Registered on the main command line by :func:`register` (``arrears.cli``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["actions", "bench_strategy", "register"]

out = Console()
err = Console(stderr=True)


def actions(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Business date YYYY-MM-DD (default: today)")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Propose only (nothing stored); without it, decisions are kept and allowed "
            "messages queued for arrears dispatch",
        ),
    ] = False,
    strategy: Annotated[
        Path | None, typer.Option("--strategy", help="Strategy YAML (default: default_cn)")
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the proposals (.csv or .parquet)")
    ] = None,
    gap: Annotated[int, typer.Option(min=1, help="Days since the strategy last ran")] = 1,
    gate: Annotated[
        bool, typer.Option(help="Pass each proposal through the compliance gate")
    ] = True,
) -> None:
    """The strategy's proposed actions for a date: counts per action, segment and arm, and what
    the compliance gate blocked and why."""
    from arrears.bootstrap import build_app
    from arrears.jobs.actions import propose_actions
    from arrears.services.strategy_files import load_arms

    app = build_app()
    day = _day(as_of) if as_of else app.clock.today()
    if strategy is None:  # the strategy saved in the app, else the shipped default
        from arrears.services.strategy_store import active_arms

        with app.db().connect() as conn:
            arms, source = active_arms(conn)
        out.print(f"strategy: {source}")
    else:
        arms = load_arms(strategy)
    if not dry_run:
        _send(app, day, arms, gap)
        return
    result = propose_actions(
        app.db(), day, arms, app.settings.lender_timezone, app.products(), gate=gate, gap=gap
    )
    print_summary(out, result)
    if out_path is not None:
        _write(result.proposals, out_path)
        out.print(f"{result.proposals.num_rows} proposal(s) → {out_path}")


def _send(app: Any, day: date, arms: Any, gap: int) -> None:
    from arrears.domain.compliance import pack_by_id
    from arrears.jobs.actions import run_actions
    from arrears.services.action_sending import MessageTexts

    s = app.settings
    result, summary = run_actions(
        app.db(),
        day,
        arms,
        s.lender_timezone,
        app.clock.now(),
        pack_by_id(s.compliance_pack),
        MessageTexts(s.lender_name, s.pay_how, s.object_how),
        app.products(),
        gap,
    )
    out.print(f"proposals for {day.isoformat()}: {result.proposals.num_rows}")
    out.print(
        f"contacts decided by the gate: {summary.decided} ({summary.blocked} blocked); "
        f"messages queued: {summary.queued} (already queued: {summary.already_queued}); "
        f"call tasks: {summary.call_tasks}; recorded only: {summary.recorded_only}"
    )
    for rule, n in sorted(summary.blocked_by.items(), key=lambda kv: (-kv[1], kv[0])):
        out.print(f"  blocked by {rule}: {n}")
    out.print("the dispatcher sends queued messages: arrears dispatch")


def dispatch(
    once: Annotated[bool, typer.Option("--once", help="One batch, then exit")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Messages per batch")] = 50,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between idle polls")] = 5.0,
    lease: Annotated[
        float, typer.Option(min=1, help="Seconds a claimed message is held (crash recovery)")
    ] = 300.0,
) -> None:
    """Send queued messages (SMS, e-mail) with retries; several may run at once."""
    import time as _time
    from datetime import timedelta

    from arrears.bootstrap import build_app, senders
    from arrears.services.messaging import dispatch_batch

    app = build_app()
    configured = senders(app)
    out.print(f"providers: {', '.join(sorted(configured)) or 'none configured'}")
    while True:
        result = dispatch_batch(
            app.db(), configured, app.clock.now, batch=batch, lease=timedelta(seconds=lease)
        )
        if result.sent or result.retried or result.dead:
            out.print(f"sent {result.sent}, retry later {result.retried}, dead {result.dead}")
        if once:
            return
        if not (result.sent or result.retried or result.dead):
            _time.sleep(interval)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        err.print(f"[bold red]error:[/] --as-of: {value!r} is not a date (use YYYY-MM-DD)")
        raise typer.Exit(2) from None


def _write(table: Any, path: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)


def print_summary(console: Console, result: Any) -> None:
    """Counts per action / segment / arm; allowed and blocked with the blocking rules."""
    console.print(f"proposals for {result.as_of.isoformat()}: {result.proposals.num_rows}")
    for title, keys in (
        ("per action", ("action",)),
        ("per segment and step", ("segment", "step")),
        ("per arm", ("arm", "strategy", "strategy_version")),
    ):
        table = Table(title=title)
        for k in keys:
            table.add_column(k)
        table.add_column("proposals", justify="right")
        for combo, n in result.counts(*keys):
            table.add_row(*combo, str(n))
        console.print(table)
    if not result.gated:
        console.print("compliance gate: not applied (--no-gate)")
        return
    allowed = sum(1 for v in result.proposals["allowed"].to_pylist() if v)
    console.print(
        f"compliance gate: {allowed} allowed, {result.proposals.num_rows - allowed} blocked"
    )
    blocked = Table(title="blocked, by rule")
    for k in ("blocked_by", "action", "proposals"):
        blocked.add_column(k, justify="right" if k == "proposals" else "left")
    for combo, n in result.counts("allowed", "blocked_by", "action"):
        if combo[0] == "False":
            blocked.add_row(combo[1], combo[2], str(n))
    console.print(blocked)


def bench_strategy(
    loans: Annotated[int, typer.Option(min=100, help="Loans in the generated book")] = 1_000_000,
    workdir: Annotated[Path, typer.Option(help="Where the book is generated (and reused)")] = Path(
        "var/bench"
    ),
    gate: Annotated[bool, typer.Option(help="Include the compliance gate")] = True,
) -> None:
    """Time the strategy (and the gate) for every account of the benchmark book."""
    from arrears.benchmarks.strategy import main as bench_main

    bench_main(loans=loans, workdir=workdir, console=out, gate=gate)


def experiment(
    date_from: Annotated[str, typer.Option("--from", help="First cycle date YYYY-MM-DD")],
    date_to: Annotated[str, typer.Option("--to", help="Last cycle date YYYY-MM-DD")],
    strategy: Annotated[
        Path | None, typer.Option("--strategy", help="Strategy YAML (default: default_cn)")
    ] = None,
) -> None:
    """Champion / challenger: each arm's cure rate, roll rate, amount collected and contacts
    per account between two cycle dates, with 95 % intervals."""
    from arrears.bootstrap import build_app
    from arrears.services.experiment import arm_report
    from arrears.services.strategy_files import load_arms

    app = build_app()
    start, end = _day(date_from), _day(date_to)
    with app.db().connect() as conn:
        if strategy is None:
            from arrears.services.strategy_store import active_arms

            arms, _ = active_arms(conn)
        else:
            arms = load_arms(strategy)
        figures = arm_report(conn, arms, start, end, app.settings.lender_timezone)
    table = Table(title=f"arms from {start} to {end}")
    for col in (
        "arm",
        "strategy",
        "accounts",
        "cure rate",
        "roll rate",
        "collected/account",
        "contacts/account",
    ):
        table.add_column(col, justify="left" if col in ("arm", "strategy") else "right")

    def rate(i: Any) -> str:
        return "–" if i is None else f"{i.value:.1%} [{i.low:.1%}, {i.high:.1%}]"

    def money(i: Any) -> str:
        return (
            "–" if i is None else f"{i.value / 100:,.2f} [{i.low / 100:,.2f}, {i.high / 100:,.2f}]"
        )

    def count(i: Any) -> str:
        return "–" if i is None else f"{i.value:.2f} [{i.low:.2f}, {i.high:.2f}]"

    for f in figures:
        table.add_row(
            f.arm,
            f.strategy,
            str(f.accounts),
            rate(f.cure_rate),
            rate(f.roll_rate),
            money(f.collected_per_account),
            count(f.contacts_per_account),
        )
    out.print(table)


def register(cli: typer.Typer, bench_cli: typer.Typer, user_errors: Callable[[Any], Any]) -> None:
    """Add ``actions``, ``experiment`` and ``bench strategy`` to the command line."""
    cli.command("actions")(user_errors(actions))
    cli.command("experiment")(user_errors(experiment))
    cli.command("dispatch")(user_errors(dispatch))
    bench_cli.command("strategy")(user_errors(bench_strategy))
