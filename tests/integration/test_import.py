"""Import of interchange books into the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from arrears.adapters.db import tables as t
from arrears.adapters.db.engine import make_engine
from arrears.domain.errors import ConfigurationError, Issue, ValidationError
from arrears.services.importing import import_book
from fixtures.books import Tables, good_tables, write_csv, write_csv_book, write_parquet_book

NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture
def engine(store: Engine) -> Engine:
    """The store under test, SQLite and PostgreSQL (``store`` in conftest.py)."""
    return store


def _import(engine: Engine, folder: Path) -> object:
    return import_book(engine, folder, clock=FixedClock())


def counts(engine: Engine) -> dict[str, int]:
    names = (t.borrowers, t.contacts, t.loans, t.installments, t.payments, t.import_runs)
    with engine.connect() as conn:
        return {tb.name: conn.scalar(select(func.count()).select_from(tb)) or 0 for tb in names}


def test_good_book_round_trips(engine: Engine, tmp_path: Path) -> None:
    report = import_book(engine, write_csv_book(tmp_path / "book"), clock=FixedClock())
    assert (report.borrowers, report.loans, report.installments) == (2, 2, 5)
    assert (report.payments_seen, report.payments_new) == (3, 3)
    with engine.connect() as conn:
        b1 = conn.execute(select(t.borrowers).where(t.borrowers.c.borrower_id == "B1")).one()
        b2 = conn.execute(select(t.borrowers).where(t.borrowers.c.borrower_id == "B2")).one()
        l1 = conn.execute(select(t.loans).where(t.loans.c.loan_id == "L1")).one()
        l2 = conn.execute(select(t.loans).where(t.loans.c.loan_id == "L2")).one()
        pays = {p.payment_id: p for p in conn.execute(select(t.payments))}
        run = conn.execute(select(t.import_runs)).one()
    assert (b1.name, b1.address, b1.city, b1.employer) == (
        "张伟",
        "北京市朝阳区建国路88号",
        "北京",
        "中国银行",
    )
    assert (b1.latitude, b1.longitude) == (Decimal("39.9042100"), Decimal("116.4073950"))
    assert b1.monthly_income_minor == 1_200_050
    assert b1.attributes == {"segment": "优质客户"}
    assert b1.created_at == NOW
    assert (b2.phone, b2.country, b2.latitude) == ("+8613912345678", "CN", None)
    assert (l1.principal_minor, l1.annual_rate, l1.grace_days) == (1_200_000, Decimal("0.0435"), 3)
    assert (l2.product, l2.currency, l2.penalty_markup) == ("default", "CNY", Decimal("0.3"))
    assert l2.attributes == {"branch": "浦东支行"}
    assert l1.restructured is False
    assert pays["P2"].paid_on == date(2026, 3, 1)  # 23:30 UTC is the next day in Shanghai
    assert pays["P2"].paid_at == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    assert (pays["P3"].amount_minor, pays["P3"].channel) == (255_000, None)
    assert (run.status, run.payments_new, run.borrowers) == ("succeeded", 3, 2)


def test_reimport_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    folder = write_csv_book(tmp_path / "book")
    _import(engine, folder)
    first = counts(engine)
    report = import_book(engine, folder, clock=FixedClock())
    assert report.payments_new == 0
    assert counts(engine) == {**first, "import_runs": 2}


def test_reimport_updates_and_replaces_schedule(engine: Engine, tmp_path: Path) -> None:
    _import(engine, write_csv_book(tmp_path / "a"))
    tables = good_tables()
    tables["borrowers"][0]["name"] = "张伟明"
    tables["installments"] = [r for r in tables["installments"] if r["loan_id"] == "L2"][:1]
    tables["installments"][0]["principal"] = "5000.00"
    tables["payments"].append(
        {
            "payment_id": "P4",
            "loan_id": "L2",
            "paid_at": "2026-03-20T08:00:00+08:00",
            "amount": "10.00",
            "channel": "cash",
        }
    )
    _import(engine, write_csv_book(tmp_path / "b", tables))
    with engine.connect() as conn:
        assert (
            conn.scalar(select(t.borrowers.c.name).where(t.borrowers.c.borrower_id == "B1"))
            == "张伟明"
        )
        seqs = conn.execute(select(t.installments.c.loan_id, t.installments.c.seq)).all()
    assert sorted(seqs) == [("L1", 1), ("L1", 2), ("L1", 3), ("L2", 1)]
    assert counts(engine)["payments"] == 4


def test_increment_refers_to_ids_in_store(engine: Engine, tmp_path: Path) -> None:
    _import(engine, write_csv_book(tmp_path / "a"))
    folder = tmp_path / "b"
    folder.mkdir()
    write_csv(folder / "borrowers.csv", [], ["borrower_id", "name", "phone"])
    write_csv(folder / "loans.csv", [], list(good_tables()["loans"][0]))
    write_csv(
        folder / "payments.csv",
        [
            {
                "payment_id": "P9",
                "loan_id": "L2",
                "paid_at": "2026-03-01T00:00:00+08:00",
                "amount": "1.00",
            }
        ],
    )
    write_csv(
        folder / "installments.csv",
        [
            {
                "loan_id": "L2",
                "seq": "1",
                "due_date": "2026-02-20",
                "principal": "5000.00",
                "interest": "1.00",
            }
        ],
    )
    report = import_book(engine, folder, clock=FixedClock())
    assert report.payments_new == 1


Mutation = Callable[[Tables], None]


def _set(table: str, row: int, column: str, value: str) -> Mutation:
    def mutate(tables: Tables) -> None:
        tables[table][row][column] = value

    return mutate


def _drop_column(table: str, column: str) -> Mutation:
    def mutate(tables: Tables) -> None:
        for row in tables[table]:
            del row[column]

    return mutate


def _drop_table(table: str) -> Mutation:
    return lambda tables: tables.pop(table) and None


def _dup_row(table: str, row: int) -> Mutation:
    return lambda tables: tables[table].append(dict(tables[table][row]))


BAD_CASES: dict[str, tuple[Mutation, tuple[str, int | None, str | None]]] = {
    "missing file": (_drop_table("loans"), ("loans.csv", None, None)),
    "missing column": (_drop_column("borrowers", "phone"), ("borrowers.csv", 1, "phone")),
    "bad date": (_set("loans", 0, "start_date", "2026-13-01"), ("loans.csv", 2, "start_date")),
    "date as text": (
        _set("installments", 1, "due_date", "15/03/2026"),
        ("installments.csv", 3, "due_date"),
    ),
    "timestamp without offset": (
        _set("payments", 1, "paid_at", "2026-02-15T10:00:00"),
        ("payments.csv", 3, "paid_at"),
    ),
    "negative amount": (_set("payments", 0, "amount", "-5.00"), ("payments.csv", 2, "amount")),
    "zero principal": (_set("loans", 1, "principal", "0"), ("loans.csv", 3, "principal")),
    "three decimals": (_set("payments", 2, "amount", "10.005"), ("payments.csv", 4, "amount")),
    "thousands separator": (
        _set("loans", 0, "principal", "12,000.00"),
        ("loans.csv", 2, "principal"),
    ),
    "unknown method": (
        _set("loans", 0, "repayment_method", "balloon"),
        ("loans.csv", 2, "repayment_method"),
    ),
    "unknown channel": (_set("payments", 0, "channel", "paypal"), ("payments.csv", 2, "channel")),
    "unknown relation": (
        _set("contacts", 1, "relation", "neighbour"),
        ("contacts.csv", 3, "relation"),
    ),
    "duplicate borrower": (_dup_row("borrowers", 0), ("borrowers.csv", 4, "borrower_id")),
    "duplicate payment": (_dup_row("payments", 1), ("payments.csv", 5, "payment_id")),
    "unknown borrower": (_set("loans", 1, "borrower_id", "B9"), ("loans.csv", 3, "borrower_id")),
    "unknown contact borrower": (
        _set("contacts", 0, "borrower_id", "B9"),
        ("contacts.csv", 2, "borrower_id"),
    ),
    "unknown loan in payments": (
        _set("payments", 2, "loan_id", "L9"),
        ("payments.csv", 4, "loan_id"),
    ),
    "unknown loan in installments": (
        _set("installments", 4, "loan_id", "L9"),
        ("installments.csv", 6, "loan_id"),
    ),
    "seq gap": (_set("installments", 2, "seq", "4"), ("installments.csv", 4, "seq")),
    "duplicate seq": (_set("installments", 2, "seq", "2"), ("installments.csv", 4, "seq")),
    "due date not increasing": (
        _set("installments", 1, "due_date", "2026-02-15"),
        ("installments.csv", 3, "due_date"),
    ),
    "principals do not sum": (
        _set("installments", 3, "principal", "2600.00"),
        ("installments.csv", 5, "principal"),
    ),
    "bad id check digit": (
        _set("borrowers", 0, "id_number", "110105194912310021"),
        ("borrowers.csv", 2, "id_number"),
    ),
    "bad id birth date": (
        _set("borrowers", 1, "id_number", "310115198002301234"),
        ("borrowers.csv", 3, "id_number"),
    ),
    "bad phone": (_set("borrowers", 1, "phone", "12345"), ("borrowers.csv", 3, "phone")),
    "missing required value": (_set("borrowers", 0, "name", ""), ("borrowers.csv", 2, "name")),
    "term below one": (_set("loans", 0, "term_months", "0"), ("loans.csv", 2, "term_months")),
}


def _where(issue: Issue) -> tuple[str, int | None, str | None]:
    return (issue.file, issue.line, issue.column)


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_is_reported_and_nothing_written(
    engine: Engine, tmp_path: Path, case: str
) -> None:
    mutate, expected = BAD_CASES[case]
    tables = good_tables()
    mutate(tables)
    before = counts(engine)
    with pytest.raises(ValidationError) as err:
        _import(engine, write_csv_book(tmp_path / "bad", tables))
    assert expected in [_where(i) for i in err.value.issues], err.value.issues
    assert counts(engine) == before


def test_bad_input_leaves_existing_store_unchanged(engine: Engine, tmp_path: Path) -> None:
    _import(engine, write_csv_book(tmp_path / "good"))
    before = counts(engine)
    tables = good_tables()
    tables["borrowers"][0]["name"] = "改名"
    tables["payments"][0]["amount"] = "0"
    with pytest.raises(ValidationError):
        _import(engine, write_csv_book(tmp_path / "bad", tables))
    assert counts(engine) == before
    with engine.connect() as conn:
        assert (
            conn.scalar(select(t.borrowers.c.name).where(t.borrowers.c.borrower_id == "B1"))
            == "张伟"
        )


def test_every_bad_row_is_reported_with_physical_lines(engine: Engine, tmp_path: Path) -> None:
    tables = good_tables()
    tables["borrowers"][0]["address"] = "北京市\n朝阳区"  # a quoted record spanning two lines
    tables["borrowers"][1]["phone"] = "12345"
    tables["payments"][0]["amount"] = "abc"
    tables["payments"][2]["paid_at"] = "2026-02-20 09:00"
    tables["loans"][1]["annual_rate"] = "-0.1"
    with pytest.raises(ValidationError) as err:
        _import(engine, write_csv_book(tmp_path / "bad", tables))
    where = [_where(i) for i in err.value.issues]
    assert where == [
        ("borrowers.csv", 4, "phone"),
        ("loans.csv", 3, "annual_rate"),
        ("payments.csv", 2, "amount"),
        ("payments.csv", 4, "paid_at"),
    ]
    assert err.value.total == 4
    assert "borrowers.csv:4 [phone]" in str(err.value)


def test_issue_cap_keeps_count(tmp_path: Path) -> None:
    from arrears.services.validation import validate_book

    tables = good_tables()
    tables["payments"] = [
        {**tables["payments"][0], "payment_id": f"P{i}", "amount": "-1"} for i in range(30)
    ]
    with pytest.raises(ValidationError) as err:
        validate_book(write_csv_book(tmp_path / "bad", tables), cap=10)
    assert (len(err.value.issues), err.value.total) == (10, 30)


def test_parquet_book_imports(engine: Engine, tmp_path: Path) -> None:
    report = import_book(engine, write_parquet_book(tmp_path / "pq"), clock=FixedClock())
    assert (report.borrowers, report.installments, report.payments_new) == (2, 5, 3)
    with engine.connect() as conn:
        b1 = conn.execute(select(t.borrowers).where(t.borrowers.c.borrower_id == "B1")).one()
        p2 = conn.execute(select(t.payments).where(t.payments.c.payment_id == "P2")).one()
    assert (b1.name, b1.latitude, b1.monthly_income_minor) == (
        "张伟",
        Decimal("39.9042100"),
        1_200_050,
    )
    assert p2.paid_on == date(2026, 3, 1)


def test_parquet_float_amounts_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        _import(engine, write_parquet_book(tmp_path / "pq", float_amounts=True))
    where = [_where(i) for i in err.value.issues]
    assert ("loans.parquet", 1, "principal") in where
    assert ("payments.parquet", 3, "amount") in where
    assert "floating-point" in err.value.issues[0].reason
    assert counts(engine)["borrowers"] == 0


def test_both_csv_and_parquet_refused(tmp_path: Path) -> None:
    from arrears.services.validation import validate_book

    folder = write_csv_book(tmp_path / "b")
    write_parquet_book(folder)
    (folder / "contacts.parquet").unlink()
    shutil.copy(folder / "loans.parquet", folder / "loans.parquet.bak")
    with pytest.raises(ValidationError, match="keep one"):
        validate_book(folder)


def test_unreachable_database_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"cannot connect to database .*\*\*\*") as err:
        make_engine("postgresql+psycopg://arrears:s3cret@127.0.0.1:1/arrears")
    assert "s3cret" not in str(err.value)
