"""Door visits (issue 6): what the field team recorded at the door, and the evidence files.

One ``visit_records`` row per visit in ``visit_requests`` (``visit_tables``), written at the
check-in (start) and completed by the record and the check-out (end). Each save from a phone
carries a ``client_ref`` (kept on the record, the last one, and in ``visit_record_saves``, all
of them): a save re-sent by a phone that was offline counts once (``services.visit_record``).
``visit_evidence`` lists the photos and audio of a visit: the file is stored under the
evidence directory as ``<visit_id>/<sha256>`` (``stored_path``, relative to it) and kept at
least until ``retention_until`` (CN-R1: two years).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

import arrears.adapters.db.compliance_tables
import arrears.adapters.db.negotiation_tables
import arrears.adapters.db.visit_tables  # noqa: F401 - the tables referred to below
from arrears.adapters.db.tables import ExactDecimal, UTCDateTime, metadata

__all__ = ["visit_evidence", "visit_record_saves", "visit_records"]

visit_records = Table(
    "visit_records",
    metadata,
    Column(
        "visit_id",
        Integer,
        ForeignKey("visit_requests.visit_id"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("client_ref", String(64), unique=True),  # the last save's id from the phone
    # The check-in (start): where the phone was, how far from the address, who went.
    Column("started_at", UTCDateTime(), nullable=False),
    Column("start_latitude", ExactDecimal()),
    Column("start_longitude", ExactDecimal()),
    Column("start_distance_m", Integer),  # None: the phone gave no position
    Column("start_reason", Text),  # why farther than the radius (or no position)
    Column("agents", Text, nullable=False),  # the two usernames, " "-separated (CN-V1)
    Column("recording_confirmed", Boolean, nullable=False),  # CN-R1 / CN-V1 record_visit
    Column("start_decision_id", Integer, ForeignKey("gate_decisions.decision_id")),
    # The record.
    Column("met", String(16)),  # borrower | family | nobody
    Column("delinquency_reason", String(32)),  # job_loss | illness | business_trouble | …
    Column("financial_situation", Text),
    Column("emotional_state", String(16)),  # calm | anxious | angry | distressed
    Column("de_escalated", Boolean),
    Column("outcome", String(16)),  # paid_now | promise | plan_proposed | refused | …
    Column("amount_paid_minor", BigInteger),  # outcome paid_now
    Column("follow_up", Text),
    Column("note", Text),
    Column("note_flagged", String(200)),  # CN-X1 categories hit by the note, space-separated
    Column("promise_id", Integer, ForeignKey("promises.promise_id")),
    Column("plan_id", Integer),
    # The check-out (end).
    Column("ended_at", UTCDateTime()),
    Column("end_latitude", ExactDecimal()),
    Column("end_longitude", ExactDecimal()),
    Column("end_distance_m", Integer),
    Column("end_reason", Text),
    Column("recorded_by", String(64), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

visit_record_saves = Table(  # every save a phone sent: a re-sent one (same ref) is a no-op
    "visit_record_saves",
    metadata,
    Column("client_ref", String(64), primary_key=True),
    Column("visit_id", Integer, ForeignKey("visit_requests.visit_id"), nullable=False),
    Column("saved_by", String(64), nullable=False),
    Column("saved_at", UTCDateTime(), nullable=False),
    Column("promise_id", Integer),  # the answer given to it
    Column("note_flagged", String(200)),
)

visit_evidence = Table(
    "visit_evidence",
    metadata,
    Column("evidence_id", Integer, primary_key=True, autoincrement=True),
    Column("visit_id", Integer, ForeignKey("visit_requests.visit_id"), nullable=False),
    Column("kind", String(16), nullable=False),  # photo | audio | other
    Column("filename", Text, nullable=False),  # as uploaded (shown only)
    Column("mime", String(100), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("stored_path", Text, nullable=False),  # relative to the evidence directory
    Column("retention_until", Date, nullable=False),  # CN-R1: kept at least until then
    Column("uploaded_by", String(64), nullable=False),
    Column("uploaded_at", UTCDateTime(), nullable=False),
    Index("ix_visit_evidence_visit_id", "visit_id"),
)
