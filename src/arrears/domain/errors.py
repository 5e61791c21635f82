"""Errors a user can cause, as one hierarchy.

ArrearsError
 ├── ValidationError      bad input data (file, line, column, reason); carries every issue
 ├── LedgerError          inputs the ledger cannot evaluate (e.g. principals that don't sum)
 ├── ConfigurationError   bad settings (e.g. unreachable database, missing secret)
 ├── NotFound             no such thing — or one the user may not see (same answer, no leak)
 ├── Forbidden            the user's role may not do this
 ├── AuthenticationError  wrong credentials, expired session, bad or revoked token
 └── Conflict             the request clashes with what is stored (e.g. idempotency key reuse)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ArrearsError",
    "AuthenticationError",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "Issue",
    "LedgerError",
    "NotFound",
    "ValidationError",
]


class ArrearsError(Exception):
    """Base of every error a user can cause; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem in one place of the input."""

    file: str
    line: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.column:
            where += f" [{self.column}]"
        return f"{where}: {self.reason}"


class ValidationError(ArrearsError):
    def __init__(self, issues: list[Issue], total: int | None = None) -> None:
        self.issues = issues
        self.total = total if total is not None else len(issues)
        shown = "\n".join(f"  {i}" for i in issues[:50])
        more = f"\n  ... and {self.total - 50} more" if self.total > 50 else ""
        super().__init__(
            f"{self.total} problem(s) in the input; nothing was changed:\n{shown}{more}"
        )


class LedgerError(ArrearsError):
    pass


class ConfigurationError(ArrearsError):
    pass


class NotFound(ArrearsError):
    pass


class Forbidden(ArrearsError):
    pass


class AuthenticationError(ArrearsError):
    pass


class Conflict(ArrearsError):
    pass
