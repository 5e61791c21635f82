"""The demo: a realistic quick-loan book, imported, cycled over its history, summarised."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from arrears.adapters.db.book_store import read_status
from arrears.domain.money import from_minor
from arrears.domain.schedules import add_months
from arrears.engine.portfolio import PortfolioRow, by_bucket, by_classification, roll_rates
from arrears.jobs.cycle import backfill_history, run_cycle
from arrears.jobs.progress import rich_progress
from arrears.services.demo_book import write_demo_book
from arrears.services.importing import import_book

__all__ = ["run_demo"]

HISTORY_MONTHS = 18


class Clock(Protocol):
    def now(self) -> datetime: ...


def run_demo(
    engine: Engine,
    *,
    data_dir: Path,
    lender_tz: str,
    clock: Clock,
    borrowers: int,
    seed: int,
    as_of: date,
    console: Console,
) -> None:
    """Write the demo book, import it, backfill 18 months of daily history, cycle today."""
    folder = data_dir / "demo" / f"book-{borrowers}-seed{seed}-{as_of.isoformat()}"
    console.print(
        f"[bold]1/4[/] writing the demo book ({borrowers} borrowers, seed {seed}) → {folder}"
    )
    book = write_demo_book(folder, borrowers=borrowers, seed=seed, as_of=as_of)
    console.print(f"    {book.describe()}")
    console.print(f"[bold]2/4[/] importing into {engine.url.render_as_string(hide_password=True)}")
    report = import_book(engine, folder, lender_tz=lender_tz, clock=clock)
    console.print(f"    {report.summary()}")
    first = add_months(as_of, -HISTORY_MONTHS)
    days = [first + timedelta(days=k) for k in range((as_of - first).days)]
    console.print(f"[bold]3/4[/] daily cycles {first} … {as_of}")
    with rich_progress() as progress:
        rows = backfill_history(engine, days, now=clock.now(), progress=progress)
        result = run_cycle(engine, as_of, now=clock.now(), progress=progress)
    console.print(f"    {len(days)} past days, {rows} history rows; {result.summary()}")
    console.print("[bold]4/4[/] portfolio")
    print_portfolio(engine, as_of, console)


def _month_ends(as_of: date) -> tuple[date, date]:
    last = as_of.replace(day=1) - timedelta(days=1)
    before = last.replace(day=1) - timedelta(days=1)
    return before, last


def print_portfolio(engine: Engine, as_of: date, console: Console) -> None:
    with engine.connect() as conn:
        now = read_status(conn, as_of)
        before, last = _month_ends(as_of)
        start, end = read_status(conn, before), read_status(conn, last)
    console.print(_table(f"By bucket as of {as_of}", "bucket", by_bucket(now)))
    console.print(_table(f"By class (五级分类) as of {as_of}", "class", by_classification(now)))
    rolls = Table(title=f"Roll rates {before} → {last} (loans active at {before})")
    for col in ("bucket", "loans", "cured", "same", "rolled", "better", "paid off", "roll rate"):
        rolls.add_column(col, justify="right")
    for r in roll_rates(start, end):
        rolls.add_row(
            r.bucket,
            str(r.loans),
            str(r.cured),
            str(r.stayed),
            str(r.rolled),
            str(r.improved),
            str(r.paid_off),
            f"{r.roll_rate:.1%}",
        )
    console.print(rolls)


def _table(title: str, key: str, rows: list[PortfolioRow]) -> Table:
    table = Table(title=title)
    for col in (key, "loans", "principal outstanding", "overdue"):
        table.add_column(col, justify="right")
    total = [0, 0, 0]
    for r in rows:
        table.add_row(
            r.key,
            str(r.loans),
            f"{from_minor(r.principal_minor):,.2f}",
            f"{from_minor(r.overdue_minor):,.2f}",
        )
        total = [total[0] + r.loans, total[1] + r.principal_minor, total[2] + r.overdue_minor]
    table.add_row(
        "total", str(total[0]), f"{from_minor(total[1]):,.2f}", f"{from_minor(total[2]):,.2f}"
    )
    return table
