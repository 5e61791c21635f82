"""The account's compliance state: disputes, complaints, consents, opt-outs, cease requests,
hardship pauses and the other events the gate reads as holds. Append-only: a dispute is
closed by a ``dispute_closed`` event, never by changing the ``dispute_opened`` row."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from arrears.adapters.db.tables import ID, UTCDateTime, metadata

__all__ = ["account_events", "gate_decisions", "strategy_versions"]

_JSON = JSON().with_variant(JSONB(), "postgresql")

account_events = Table(
    "account_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("kind", String(32), nullable=False),  # arrears.domain.compliance.EventKind
    Column("at", UTCDateTime(), nullable=False),  # when it took effect
    Column("channel", String(16)),  # opt_out: the channel
    Column("address", String(128)),  # opt_out / employer_forbids: the number or address
    Column("scope", String(128)),  # consent: channels, space separated (empty = all)
    Column("window_start", Time),  # consent: the hours it covers [start, end)
    Column("window_end", Time),
    Column("until", UTCDateTime()),  # hardship_pause: its end
    Column("agency", String(64)),  # agency_notice
    Column("note", Text),
    Column("recorded_by", String(80), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_account_events_borrower_id_at", "borrower_id", "at"),
)


gate_decisions = Table(  # append-only (a trigger refuses UPDATE and DELETE on PostgreSQL)
    "gate_decisions",
    metadata,
    Column("decision_id", Integer, primary_key=True, autoincrement=True),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("pack", String(8), nullable=False),
    Column("pack_version", String(16), nullable=False),
    Column("overridden", Boolean, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id")),
    Column("target_kind", String(16), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("allowed", Boolean, nullable=False),
    Column("rules", _JSON, nullable=False),  # every rule that blocked or imposed a duty
    Column("blocked_by", _JSON, nullable=False),
    Column("reasons", _JSON, nullable=False),  # {"zh-CN": ..., "en": ...}
    Column("next_allowed_at", UTCDateTime()),
    Column("duties", _JSON, nullable=False),
    Column("attempt", _JSON, nullable=False),  # as `arrears compliance explain` reads it
    Index("ix_gate_decisions_borrower_id", "borrower_id"),
    Index("ix_gate_decisions_decided_at", "decided_at"),
)


strategy_versions = Table(  # append-only: saving a strategy adds a version; the newest runs
    "strategy_versions",
    metadata,
    Column("version_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("body", Text, nullable=False),  # the YAML document as saved
    Column("note", Text),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("name", "version"),
)
