"""The outbox: messages the gate allowed, written in the same transaction as the decision,
sent by the dispatcher (``services.messaging``) with retries, and updated by delivery
receipts."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from arrears.adapters.db.tables import ID, UTCDateTime, metadata

__all__ = ["outbox_messages"]

outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("message_id", Integer, primary_key=True, autoincrement=True),
    # One key per intended message (e.g. sms:2026-11-28:B001:sms_due_today): enqueueing it
    # again is a no-op, and every try sends it to the provider under this key.
    Column("idempotency_key", String(160), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),  # sms | email
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id")),
    Column("loan_id", ID),
    Column("recipient", String(256), nullable=False),
    Column("locale", String(8), nullable=False),
    Column("template", String(64), nullable=False),
    Column("subject", Text),
    Column("body", Text, nullable=False),
    # queued → sending → sent → delivered | failed (receipt); retries back to queued; dead
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime()),  # a dispatcher holds it until then (crash → expires)
    Column("last_error", Text),
    Column("provider", String(32)),
    Column("provider_message_id", String(128)),
    Column("decision_id", Integer, ForeignKey("gate_decisions.decision_id")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("delivered_at", UTCDateTime()),
    Index("ix_outbox_messages_status_next", "status", "next_attempt_at"),
    Index("ix_outbox_messages_provider_message_id", "provider", "provider_message_id"),
)
