"""Message templates saved from the app: append-only versions per (name, locale); the newest
version is the one sent, the code default in ``services.message_templates`` applies until one
is saved."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, Text, UniqueConstraint

from arrears.adapters.db.tables import UTCDateTime, metadata

__all__ = ["message_template_versions"]

message_template_versions = Table(  # append-only: saving adds a version; the newest is sent
    "message_template_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),  # e.g. sms_due_today
    Column("locale", String(8), nullable=False),  # zh_CN | en
    Column("channel", String(16), nullable=False),  # sms | email | letter
    Column("subject", Text),  # email / letter only
    Column("body", Text, nullable=False),  # Jinja2 source as saved
    Column("version", Integer, nullable=False),  # 1, 2, ... per (name, locale)
    Column("note", Text),
    Column("created_by", String(80), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("name", "locale", "version"),
)
