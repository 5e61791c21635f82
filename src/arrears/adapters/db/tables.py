"""Tables of the store (SQLAlchemy Core).

Money is always ``BigInteger`` minor units. Exact decimals that are not money (rates,
coordinates) use :class:`ExactDecimal`: ``Numeric`` on PostgreSQL, text on SQLite (whose
``Numeric`` is a binary float). Instants are timezone-aware UTC (:class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "ExactDecimal",
    "UTCDateTime",
    "borrowers",
    "contacts",
    "cycle_runs",
    "import_runs",
    "installments",
    "loans",
    "metadata",
    "payments",
    "status_history",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal: ``Numeric`` where it is exact, canonical text on SQLite."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"ExactDecimal needs a Decimal, got {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored and returned in UTC; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store only holds timezone-aware instants")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:  # SQLite drops the offset; we only ever wrote UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


Attributes = JSON().with_variant(JSONB(), "postgresql")
ID = String(64)

borrowers = Table(
    "borrowers",
    metadata,
    Column("borrower_id", ID, primary_key=True),
    Column("name", Text, nullable=False),
    Column("id_number", String(32)),
    Column("phone", String(32), nullable=False),  # E.164
    Column("email", Text),
    Column("address", Text),
    Column("city", Text),
    Column("country", String(2), nullable=False),
    Column("latitude", ExactDecimal()),
    Column("longitude", ExactDecimal()),
    Column("employer", Text),
    Column("monthly_income_minor", BigInteger),
    Column("attributes", Attributes, nullable=False, default=dict),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("last_import_run_id", Integer),
)

contacts = Table(
    "contacts",
    metadata,
    Column("contact_id", ID, primary_key=True),
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("relation", String(16), nullable=False),
    Column("phone", String(32), nullable=False),  # E.164
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("last_import_run_id", Integer),
)

loans = Table(
    "loans",
    metadata,
    Column("loan_id", ID, primary_key=True),
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id"), nullable=False, index=True),
    Column("product", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("annual_rate", ExactDecimal(), nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("repayment_method", String(16), nullable=False),
    Column("penalty_markup", ExactDecimal()),  # None: the product's
    Column("grace_days", Integer),  # None: the product's
    Column("attributes", Attributes, nullable=False, default=dict),
    Column("restructured", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("last_import_run_id", Integer),
)

installments = Table(
    "installments",
    metadata,
    Column("loan_id", ID, ForeignKey("loans.loan_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("due_date", Date, nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
)

payments = Table(
    "payments",
    metadata,
    Column("payment_id", ID, primary_key=True),
    Column("loan_id", ID, ForeignKey("loans.loan_id"), nullable=False),
    Column("paid_at", UTCDateTime(), nullable=False),
    Column("paid_on", Date, nullable=False),  # business date in the lender's zone
    Column("amount_minor", BigInteger, nullable=False),
    Column("channel", String(16)),
    Column("import_run_id", Integer),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_payments_loan_id_paid_on", "loan_id", "paid_on"),
)

status_history = Table(  # append-only: one row per loan and as_of date
    "status_history",
    metadata,
    Column("loan_id", ID, ForeignKey("loans.loan_id"), primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("borrower_id", ID, nullable=False),
    Column("dpd", Integer, nullable=False),
    Column("bucket", String(8), nullable=False),
    Column("classification", String(16), nullable=False),
    Column("overdue_principal_minor", BigInteger, nullable=False),
    Column("overdue_interest_minor", BigInteger, nullable=False),
    Column("accrued_penalty_minor", BigInteger, nullable=False),
    Column("accrued_compound_minor", BigInteger, nullable=False),
    Column("principal_outstanding_minor", BigInteger, nullable=False),
    Column("next_due_date", Date),
    Column("next_due_amount_minor", BigInteger, nullable=False),
    Column("credit_balance_minor", BigInteger, nullable=False),
    Column("total_due_now_minor", BigInteger, nullable=False),
    Column("paid_off", Boolean, nullable=False),
    # The engine's exact state after this date (arrears.engine.status.STATE_SCHEMA): lets the
    # next cycle advance the loan without replaying its history. Null: replay.
    Column("product", String(64)),
    Column("accrual_den", BigInteger),
    Column("penalty_num", BigInteger),
    Column("compound_num", BigInteger),
    Column("penalty_per_day", BigInteger),
    Column("compound_per_day", BigInteger),
    Column("quiet_until", Date),
    Column("cycle_run_id", Integer),
    # Set when a repayment plan's figures replaced the contract's (services.plan_overlay):
    # the plan, what was replaced and the plan's own figures. Null: the ledger's row as is.
    Column("plan_overlay", Attributes),
    Index("ix_status_history_as_of", "as_of"),
    Index("ix_status_history_borrower_id_as_of", "borrower_id", "as_of"),
)

import_runs = Table(
    "import_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("source", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("borrowers", Integer, nullable=False, default=0),
    Column("contacts", Integer, nullable=False, default=0),
    Column("loans", Integer, nullable=False, default=0),
    Column("installments", Integer, nullable=False, default=0),
    Column("payments_seen", Integer, nullable=False, default=0),
    Column("payments_new", Integer, nullable=False, default=0),
    Column("warnings", Integer, nullable=False, default=0),
)

cycle_runs = Table(
    "cycle_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("as_of", Date, nullable=False, index=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("status", String(16), nullable=False),
    Column("loans_recomputed", Integer, nullable=False, default=0),
    Column("loans_carried", Integer, nullable=False, default=0),
)
