"""The command line as a user runs it: good paths, and every error a user can cause.

Each bad input must give a message that says what and where, a non-zero exit, and leave the
store unchanged.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from arrears.cli import cli
from fixtures.books import good_tables, write_csv_book

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ARREARS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("ARREARS_DATABASE_URL", raising=False)
    return tmp_path


def _counts(db: Path) -> dict[str, int]:
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        names = ("borrowers", "loans", "installments", "payments", "status_history")
        out = {n: conn.execute(sa.text(f"SELECT count(*) FROM {n}")).scalar_one() for n in names}  # noqa: S608
    engine.dispose()
    return out


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output  # stdout and stderr, as a terminal shows them


def test_import_cycle_and_export(env: Path) -> None:
    book = write_csv_book(env / "book")
    code, text = _run("import", str(book))
    assert code == 0, text
    assert "2 loan(s)" in text
    code, text = _run("cycle", "--as-of", "2026-03-02")
    assert code == 0, text
    out = env / "status.csv"
    code, text = _run("status", "--as-of", "2026-03-02", "--out", str(out))
    assert code == 0, text
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["loan_id"] for r in rows] == ["L1", "L2"]
    direct = env / "direct.csv"
    code, text = _run("status", "--book", str(book), "--as-of", "2026-03-02", "--out", str(direct))
    assert code == 0, text
    assert direct.read_bytes() == out.read_bytes()


@pytest.mark.parametrize(
    ("table", "row", "column", "value", "where"),
    [
        ("loans", 0, "start_date", "2026-02-30", "loans.csv:2"),
        ("payments", 1, "paid_at", "2026-02-28T23:30:00", "payments.csv:3"),
        ("payments", 0, "amount", "-5.00", "payments.csv:2"),
        ("payments", 2, "loan_id", "L9", "payments.csv:4"),
        ("installments", 0, "principal", "3978.28", "installments.csv"),
    ],
)
def test_bad_input_is_named_and_changes_nothing(
    env: Path, table: str, row: int, column: str, value: str, where: str
) -> None:
    assert _run("import", str(write_csv_book(env / "good")))[0] == 0
    before = _counts(env / "var" / "arrears.db")
    tables = good_tables()
    tables[table][row][column] = value
    tables["payments"].append({**tables["payments"][0], "payment_id": "P-new"})
    code, text = _run("import", str(write_csv_book(env / "bad", tables)))
    assert code == 2
    assert where in text
    assert column in text
    assert "nothing was changed" in text
    assert _counts(env / "var" / "arrears.db") == before


def test_missing_column_and_missing_file(env: Path) -> None:
    tables = good_tables()
    for r in tables["loans"]:
        del r["annual_rate"]
    code, text = _run("import", str(write_csv_book(env / "nocol", tables)))
    assert code == 2
    assert "loans.csv" in text
    assert "annual_rate" in text
    empty = env / "empty"
    empty.mkdir()
    code, text = _run("import", str(empty))
    assert code == 2
    assert "borrowers" in text


def test_bad_dates_and_engine_on_the_command_line(env: Path) -> None:
    code, text = _run("cycle", "--as-of", "28/11/2026")
    assert code == 2
    assert "--as-of" in text
    code, text = _run(
        "status", "--book", str(write_csv_book(env / "b")), "--engine", "oracle", "--out", "x.csv"
    )
    assert code == 2
    assert "--engine" in text


def test_status_book_reports_bad_rows(env: Path) -> None:
    tables = good_tables()
    tables["loans"][1]["repayment_method"] = "balloon"
    code, text = _run(
        "status", "--book", str(write_csv_book(env / "b", tables)), "--out", str(env / "s.csv")
    )
    assert code == 2
    assert "loans.csv:3" in text
    assert "repayment_method" in text
    assert not (env / "s.csv").exists()


def test_unreachable_database_is_a_clear_error(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ARREARS_DATABASE_URL", "postgresql+psycopg://arrears:s3cret@127.0.0.1:9/arrears"
    )
    code, text = _run("cycle", "--as-of", "2026-03-02")
    assert code == 2
    assert "cannot connect to database" in text
    assert "s3cret" not in text


def test_the_installed_command_runs(env: Path) -> None:
    """The real entry point in a child process (what a user types)."""
    book = write_csv_book(env / "book")
    cmd = [sys.executable, "-m", "arrears", "import", str(book)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), check=False)
    assert proc.returncode == 0, proc.stderr
    assert "2 loan(s)" in proc.stdout


def test_products_file_changes_the_ledger(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """L1 (product "consumer") pays 100.00 late on 2026-02-28 for 13 days of grace (own: 3)."""
    tables = good_tables()
    tables["loans"][1]["product"] = "consumer"
    tables["loans"][1]["penalty_markup"] = ""
    book = write_csv_book(env / "book", tables)
    args = ("status", "--book", str(book), "--as-of", "2026-04-30")
    assert _run(*args, "--out", str(env / "plain.csv"))[0] == 0
    (env / "p.toml").write_text('[products.consumer]\npenalty_markup = "1.0"\n', encoding="utf-8")
    monkeypatch.setenv("ARREARS_PRODUCTS_FILE", str(env / "p.toml"))
    assert _run(*args, "--out", str(env / "doubled.csv"))[0] == 0
    plain = {r["loan_id"]: r for r in csv.DictReader((env / "plain.csv").open(encoding="utf-8"))}
    doubled = {
        r["loan_id"]: r for r in csv.DictReader((env / "doubled.csv").open(encoding="utf-8"))
    }
    assert Decimal(doubled["L2"]["accrued_penalty"]) > Decimal(plain["L2"]["accrued_penalty"]) > 0
    (env / "p.toml").write_text("[products.consumer]\ngrace = 3\n", encoding="utf-8")
    code, text = _run(*args, "--out", str(env / "x.csv"))
    assert code == 2
    assert "unknown setting" in text
