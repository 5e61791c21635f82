"""Roles, permissions and the masking of personal data for display (domain/people.py)."""

from __future__ import annotations

import pytest

from arrears.domain.people import (
    PERMISSIONS,
    Actor,
    ApiScope,
    Permission,
    Role,
    mask_address,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
    may,
)

# --- masking -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110101199003071234", "110101********1234"),
        ("11010119900307123X", "110101********123X"),
        ("110101900307123", "110101*****7123"),  # the old 15-digit card
        ("G12345678", "*******78"),  # a passport: short, only the last two kept
        ("AB", "AB"),
        (None, None),
        ("", ""),
    ],
)
def test_mask_id_number(value: str | None, masked: str | None) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+8613812345678", "138****5678"),
        ("13812345678", "138****5678"),
        ("+14155550123", "141****0123"),  # not CN: the country code stays part of the digits
        ("1234567", "*****67"),  # too short for head and tail
        (None, None),
        ("", ""),
    ],
)
def test_mask_phone(value: str | None, masked: str | None) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张伟", "张*"),
        ("欧阳明华", "欧***"),
        ("Alice Smith", "A**** S****"),
        ("Bo", "B*"),
        (None, None),
        ("", ""),
    ],
)
def test_mask_name(value: str | None, masked: str | None) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("zhang.wei@example.cn", "z***@example.cn"),
        ("a@b.c", "a***@b.c"),
        ("not-an-email", "not-an-email"),
        (None, None),
    ],
)
def test_mask_email(value: str | None, masked: str | None) -> None:
    assert mask_email(value) == masked


def test_mask_address_keeps_only_the_city() -> None:
    assert mask_address("北京市朝阳区建国路88号", "北京") == "北京***"
    assert mask_address("88 Jianguo Road", None) == "***"
    assert mask_address(None, "北京") is None


@pytest.mark.parametrize(
    ("masker", "value"),
    [
        (mask_id_number, "110101199003071234"),
        (mask_phone, "+8613812345678"),
        (mask_name, "欧阳明华"),
        (mask_email, "zhang.wei@example.cn"),
    ],
)
def test_masking_hides_most_of_the_value(masker: object, value: str) -> None:
    masked = masker(value)  # type: ignore[operator]
    assert masked != value
    shown = [c for c in masked if c != "*"]
    assert len(shown) < len(value)
    assert "*" in masked


# --- permissions ---------------------------------------------------------------------------


def test_every_role_has_permissions() -> None:
    assert set(PERMISSIONS) == set(Role)


def test_audit_is_read_by_compliance_and_admin_only() -> None:
    assert {r for r in Role if may(r, Permission.READ_AUDIT)} == {Role.COMPLIANCE, Role.ADMIN}


@pytest.mark.parametrize("permission", [Permission.MANAGE_USERS, Permission.MANAGE_TOKENS])
def test_only_admin_manages_users_and_tokens(permission: Permission) -> None:
    assert {r for r in Role if may(r, permission)} == {Role.ADMIN}


def test_admin_sees_no_borrower_data() -> None:
    for p in (
        Permission.READ_ALL_ACCOUNTS,
        Permission.READ_ASSIGNED_ACCOUNTS,
        Permission.UNMASK_PII,
    ):
        assert not may(Role.ADMIN, p)


def test_compliance_reads_but_does_not_work_accounts() -> None:
    assert may(Role.COMPLIANCE, Permission.READ_ALL_ACCOUNTS)
    assert may(Role.COMPLIANCE, Permission.UNMASK_PII)
    for p in (Permission.WRITE_NOTES, Permission.LOG_CONTACTS, Permission.ASSIGN_ACCOUNTS):
        assert not may(Role.COMPLIANCE, p)


@pytest.mark.parametrize("role", [Role.COLLECTOR, Role.FIELD_AGENT])
def test_collectors_see_only_assigned_accounts(role: Role) -> None:
    assert may(role, Permission.READ_ASSIGNED_ACCOUNTS)
    assert not may(role, Permission.READ_ALL_ACCOUNTS)
    assert not may(role, Permission.VIEW_PORTFOLIO)
    assert not may(role, Permission.ASSIGN_ACCOUNTS)


def test_manager_runs_the_desk() -> None:
    for p in (
        Permission.READ_ALL_ACCOUNTS,
        Permission.VIEW_PORTFOLIO,
        Permission.ASSIGN_ACCOUNTS,
        Permission.WRITE_NOTES,
    ):
        assert may(Role.MANAGER, p)
    assert not may(Role.MANAGER, Permission.READ_AUDIT)


def test_api_scopes_are_the_documented_strings() -> None:
    assert {s.value for s in ApiScope} == {
        "accounts:read",
        "payments:write",
        "contacts:write",
        "book:import",
    }


def test_a_token_actor_has_no_role() -> None:
    actor = Actor("token:core", None, scopes=frozenset({ApiScope.READ_ACCOUNTS}))
    assert actor.role is None and actor.user_id is None
    assert ApiScope.READ_ACCOUNTS in actor.scopes
