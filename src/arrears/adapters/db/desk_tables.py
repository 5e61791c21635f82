"""Tables of the collections desk: people, sessions, tokens, assignments, notes, contact
attempts and the audit log. Same metadata as the book's tables (one schema, one migration
history)."""

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
    UniqueConstraint,
    false,
    true,
)

from arrears.adapters.db.tables import ID, Attributes, UTCDateTime, metadata

__all__ = [
    "account_assignments",
    "api_idempotency",
    "api_tokens",
    "audit_log",
    "contact_attempts",
    "login_failures",
    "notes",
    "teams",
    "users",
    "web_sessions",
]

teams = Table(
    "teams",
    metadata,
    Column("team_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("team_id", Integer, ForeignKey("teams.team_id")),
    Column("locale", String(8)),  # None: the site default
    Column("active", Boolean, nullable=False, default=True, server_default=true()),
    Column("created_at", UTCDateTime(), nullable=False),
)

web_sessions = Table(  # the cookie holds a random token; only its SHA-256 is stored
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False, server_default=false()),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False),
    Column("client", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_login_failures_username_at", "username", "at"),
    Index("ix_login_failures_client_at", "client", "at"),
)

api_tokens = Table(  # the token is shown once; only its SHA-256 is stored
    "api_tokens",
    metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", Text, nullable=False),  # space-separated
    Column("created_by", Integer, ForeignKey("users.user_id")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    Column("last_used_at", UTCDateTime()),
)

api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("token_id", Integer, ForeignKey("api_tokens.token_id"), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Attributes, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

account_assignments = Table(  # the current owner of each account; changes are audited
    "account_assignments",
    metadata,
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.user_id"), nullable=False),
    Column("assigned_at", UTCDateTime(), nullable=False),
    Column("assigned_by", String(64), nullable=False),
    Column("rule", String(32), nullable=False),  # manual | bucket | city | balance
    # The account's standing, copied here so that a work queue is one indexed read
    # (services.standing keeps it: the daily cycle, assignments, contacts, posted payments).
    Column("standing_as_of", Date),  # the status date the three figures below are from
    Column("loans", Integer, nullable=False, server_default="0"),
    Column("dpd", Integer, nullable=False, server_default="0"),  # worst loan
    Column("due_minor", BigInteger, nullable=False, server_default="0"),  # due now, all loans
    Column("last_contact_at", UTCDateTime()),
    Column("next_action_on", Date),
)

# The work queue's four orders, one index each: a page is an index-only range scan of the
# collector's entries in that order (no sort of all of them), both directions. A missing last
# contact sorts as the earliest (never contacted), a missing next action as the latest (none
# planned): ``services.desk`` orders by exactly these. SQLite ignores INCLUDE.
_QUEUE_COLUMNS = ["borrower_id", "loans", "dpd", "due_minor", "last_contact_at", "next_action_on"]
_aa = account_assignments.c
for _name, _key in (
    ("dpd", _aa.dpd),
    ("amount", _aa.due_minor),
    ("last_contact", _aa.last_contact_at.nulls_first()),  # SQLite's own order of NULLs
    ("next_action", _aa.next_action_on),
):
    Index(
        f"ix_account_assignments_queue_{_name}",
        _aa.user_id,
        _key,
        _aa.borrower_id,
        postgresql_include=[c for c in _QUEUE_COLUMNS if c != "borrower_id"],
    )

notes = Table(
    "notes",
    metadata,
    Column("note_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", ID, ForeignKey("loans.loan_id")),
    Column("author", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # CN-X1 screening: the lexicon categories the note hit (space separated), for compliance.
    Column("flagged", String(200)),
    Index("ix_notes_borrower_id_created_at", "borrower_id", "created_at"),
)

contact_attempts = Table(  # append-only
    "contact_attempts",
    metadata,
    Column("attempt_id", Integer, primary_key=True, autoincrement=True),
    Column("borrower_id", ID, ForeignKey("borrowers.borrower_id"), nullable=False),
    Column("loan_id", ID, ForeignKey("loans.loan_id")),
    Column("channel", String(16), nullable=False),
    Column("answered", Boolean, nullable=False),
    Column("right_party", Boolean, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("delinquency_reason", String(32)),
    Column("next_action_on", Date),
    Column("remark", Text),
    Column("recorded_by", String(64), nullable=False),
    Column("external_id", String(128)),  # the dialer's call id: posting it twice is one row
    Column("at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("recorded_by", "external_id"),
    Index("ix_contact_attempts_borrower_id_at", "borrower_id", "at"),
)

audit_log = Table(  # append-only
    "audit_log",
    metadata,
    Column("audit_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("actor", String(80), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("subject_type", String(16), nullable=False),
    Column("subject_id", String(64)),
    Column("reason", Text),
    Column("detail", Attributes, nullable=False),
    Column("client", String(64)),
    Index("ix_audit_log_subject", "subject_type", "subject_id"),
)
