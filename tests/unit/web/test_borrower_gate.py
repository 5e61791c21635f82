"""Lint: borrower personal data is read only through ``arrears.services.access``.

Web code cannot import the store at all (import-linter contract). Services it calls must not
select the borrower or contact tables' personal columns themselves: only ``access.py`` may,
plus the import path, which writes them.
"""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[3] / "src" / "arrears" / "services"
ALLOWED = {
    "access.py",  # the gate
    "importing.py",  # writes borrowers from an interchange folder
    "validation.py",
    "interchange_fields.py",
    "interchange_reader.py",
    "interchange_rows.py",
    "demo_book.py",
    "demo_people.py",
}
PII = {"name", "id_number", "phone", "email", "address", "latitude", "longitude", "employer"}


def _offences(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        # borrowers.c.phone / t.contacts.c.name
        if (
            isinstance(node, ast.Attribute)
            and node.attr in PII
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "c"
        ):
            owner = node.value.value
            table = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if table in {"borrowers", "contacts"}:
                found.append(f"line {node.lineno}: {table}.c.{node.attr}")
        # select(t.borrowers) — every column at once
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "select":
            for arg in node.args:
                name = arg.attr if isinstance(arg, ast.Attribute) else getattr(arg, "id", "")
                if name in {"borrowers", "contacts"}:
                    found.append(f"line {node.lineno}: select({name})")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.lower()
            if "select" in text and ("from borrowers" in text or "from contacts" in text):
                found.append(f"line {node.lineno}: SQL text on borrowers/contacts")
    return found


def test_only_the_access_service_reads_borrower_pii() -> None:
    offences = {}
    for path in sorted(SERVICES.glob("*.py")):
        if path.name in ALLOWED:
            continue
        found = _offences(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            offences[path.name] = found
    assert offences == {}, f"read borrowers through services.access: {offences}"


def test_the_lint_catches_a_direct_read() -> None:
    bad = (
        "from sqlalchemy import select\nq = select(t.borrowers.c.phone)\nr = select(t.borrowers)\n"
    )
    assert len(_offences(ast.parse(bad))) == 2
