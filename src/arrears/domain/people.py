"""Who may do what: roles, permissions, API scopes, and how PII is masked for display.

Pure: the access service (``arrears.services.access``) applies these to stored rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PERMISSIONS",
    "Actor",
    "ApiScope",
    "Permission",
    "Role",
    "mask_address",
    "mask_email",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "may",
]


class Role(StrEnum):
    MANAGER = "manager"
    COLLECTOR = "collector"
    FIELD_AGENT = "field_agent"
    COMPLIANCE = "compliance"
    ADMIN = "admin"


class Permission(StrEnum):
    READ_ASSIGNED_ACCOUNTS = "read_assigned_accounts"  # own and own team's accounts
    READ_ALL_ACCOUNTS = "read_all_accounts"
    UNMASK_PII = "unmask_pii"  # with a reason, audited
    WRITE_NOTES = "write_notes"
    LOG_CONTACTS = "log_contacts"
    VIEW_PORTFOLIO = "view_portfolio"
    ASSIGN_ACCOUNTS = "assign_accounts"
    EDIT_STRATEGY = "edit_strategy"
    VIEW_TEMPLATES = "view_templates"  # message and letter templates, their history
    EDIT_TEMPLATES = "edit_templates"
    READ_AUDIT = "read_audit"
    REVIEW_COMPLIANCE = "review_compliance"  # the gate's decisions, flagged notes
    MANAGE_USERS = "manage_users"
    MANAGE_TOKENS = "manage_tokens"
    REQUEST_VISITS = "request_visits"  # ask for a door visit to an account (with a reason)
    PLAN_VISITS = "plan_visits"  # field teams, the visit queue, day plans, pins and locks
    VIEW_ROUTE = "view_route"  # a field agent's own team's route sheet
    RECORD_VISITS = "record_visits"  # a field team member: start, record, end own visits
    VIEW_VISIT_REPORTS = "view_visit_reports"  # read any visit and the visit reports
    PROPOSE_PLANS = "propose_plans"  # repayment plans: calculate, propose, record acceptance
    APPROVE_PLANS = "approve_plans"  # four eyes: approve or reject another's plan


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.COLLECTOR: frozenset(
        {
            Permission.READ_ASSIGNED_ACCOUNTS,
            Permission.UNMASK_PII,
            Permission.WRITE_NOTES,
            Permission.LOG_CONTACTS,
            Permission.PROPOSE_PLANS,
            Permission.REQUEST_VISITS,
        }
    ),
    Role.FIELD_AGENT: frozenset(
        {
            Permission.READ_ASSIGNED_ACCOUNTS,
            Permission.UNMASK_PII,
            Permission.WRITE_NOTES,
            Permission.LOG_CONTACTS,
            Permission.RECORD_VISITS,
            Permission.PROPOSE_PLANS,
            Permission.VIEW_ROUTE,
        }
    ),
    Role.MANAGER: frozenset(
        {
            Permission.READ_ALL_ACCOUNTS,
            Permission.UNMASK_PII,
            Permission.WRITE_NOTES,
            Permission.LOG_CONTACTS,
            Permission.VIEW_PORTFOLIO,
            Permission.ASSIGN_ACCOUNTS,
            Permission.EDIT_STRATEGY,
            Permission.VIEW_TEMPLATES,
            Permission.EDIT_TEMPLATES,
            Permission.VIEW_VISIT_REPORTS,
            Permission.PROPOSE_PLANS,
            Permission.APPROVE_PLANS,
            Permission.REQUEST_VISITS,
            Permission.PLAN_VISITS,
        }
    ),
    Role.COMPLIANCE: frozenset(
        {
            Permission.READ_ALL_ACCOUNTS,
            Permission.UNMASK_PII,
            Permission.READ_AUDIT,
            Permission.REVIEW_COMPLIANCE,
            Permission.VIEW_TEMPLATES,
        }
    ),
    Role.ADMIN: frozenset(
        {Permission.MANAGE_USERS, Permission.MANAGE_TOKENS, Permission.READ_AUDIT}
    ),
}


def may(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


class ApiScope(StrEnum):
    """What a system's API token may do."""

    READ_ACCOUNTS = "accounts:read"
    WRITE_PAYMENTS = "payments:write"
    WRITE_CONTACTS = "contacts:write"
    IMPORT_BOOK = "book:import"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a person (user id, role, team) or a system token (user_id None)."""

    name: str
    role: Role | None
    user_id: int | None = None
    team_id: int | None = None
    scopes: frozenset[ApiScope] = frozenset()


def mask_id_number(value: str | None) -> str | None:
    """``110101199003071234`` → ``110101********1234`` (region code and last four kept)."""
    if not value:
        return value
    if len(value) <= 10:
        return "*" * (len(value) - 2) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str | None) -> str | None:
    """``+8613812345678`` / ``13812345678`` → ``138****5678`` (country code dropped for CN)."""
    if not value:
        return value
    digits = value[3:] if value.startswith("+86") else value.lstrip("+")
    if len(digits) < 8:
        return "*" * (len(digits) - 2) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(value: str | None) -> str | None:
    """``张伟`` → ``张*``, ``欧阳明华`` → ``欧***``, ``Alice Smith`` → ``A**** S****``."""
    if not value:
        return value
    if value.isascii():
        return " ".join(w[:1] + "*" * (len(w) - 1) for w in value.split())
    return value[0] + "*" * (len(value) - 1)


def mask_email(value: str | None) -> str | None:
    if not value or "@" not in value:
        return value
    local, domain = value.split("@", 1)
    return local[:1] + "***@" + domain


def mask_address(value: str | None, city: str | None) -> str | None:
    """Only the city is shown."""
    if not value:
        return value
    return f"{city or ''}***"
