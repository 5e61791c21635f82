"""Negotiation: promises to pay (and, with the plan calculator, repayment plans).

A promise is one or more (date, amount) items made for an account (all its loans, or one);
the daily cycle evaluates open promises against the payments received since the promise was
made and settles each as kept, partly kept or broken (``services.promises``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, ForeignKey, Index, Integer, String, Table, Text

from arrears.adapters.db.tables import ID, UTCDateTime, metadata

__all__ = ["promise_items", "promises"]

promises = Table(
    "promises",
    metadata,
    Column("promise_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", ID, ForeignKey("loans.loan_id")),  # None: any of the account's loans
    Column("channel", String(16), nullable=False),  # phone | visit | sms | email | web | letter
    Column("promised_by", String(32), nullable=False),  # borrower | spouse | … (who promised)
    Column("attempt_id", Integer, ForeignKey("contact_attempts.attempt_id")),
    Column("made_on", Date, nullable=False),  # lender-local date: payments from it count
    Column("total_minor", BigInteger, nullable=False),
    Column("tolerance_minor", BigInteger, nullable=False),  # short by at most this: kept
    # open → kept | partly_kept | broken; cancelled (superseded by a plan or by hand)
    Column("status", String(16), nullable=False),
    Column("paid_minor", BigInteger, nullable=False, server_default="0"),
    Column("settled_on", Date),  # when it stopped being open
    Column("note", Text),
    Column("recorded_by", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_promises_borrower_id", "borrower_id"),
    Index("ix_promises_status", "status"),
    Index("ix_promises_recorded_by", "recorded_by"),
)

promise_items = Table(
    "promise_items",
    metadata,
    Column("promise_id", Integer, ForeignKey("promises.promise_id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("due_on", Date, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
)
