"""What every API route shares: bearer-token authentication with scopes, documented error
responses (``application/problem+json``) and money as decimal strings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from arrears.domain.errors import AuthenticationError, Forbidden
from arrears.domain.money import from_minor
from arrears.domain.people import Actor, ApiScope
from arrears.services.api_support import authenticate
from arrears.web.context import web

__all__ = [
    "ID_PATTERN",
    "MONEY_PATTERN",
    "Caller",
    "caller",
    "errors",
    "money",
    "require_scope",
]

ID_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"  # the store's ids: 1-64 characters, no control ones
MONEY_PATTERN = r"^-?\d+\.\d{2}$"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiToken",
    description="An API token (`arr_…`) created by an admin; each route needs one scope.",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """The system calling: its token and the actor (name ``token:<name>``, scopes)."""

    token_id: int
    actor: Actor


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    """The token's caller; 401 when the header is missing, malformed, unknown or revoked.

    Only the bearer token counts: a signed-in person's session cookie opens no API route.
    """
    if credentials is None or not credentials.credentials:
        raise AuthenticationError("send an API token: Authorization: Bearer <token>")
    ctx = web(request)
    token_id, actor = authenticate(ctx.engine, credentials.credentials, ctx.clock.now())
    return Caller(token_id, actor)


def require_scope(scope: ApiScope) -> Callable[..., Caller]:
    """A dependency: the caller, whose token must hold ``scope`` (403 otherwise)."""

    def check(found: Annotated[Caller, Depends(caller)]) -> Caller:
        if scope not in found.actor.scopes:
            raise Forbidden(f"this API token lacks the {scope.value!r} scope")
        return found

    check.__name__ = f"require_{scope.name.lower()}"
    return check


def money(minor: int) -> str:
    """Minor units as a decimal string in major units: 123456 → ``"1234.56"``."""
    return format(from_minor(int(minor)), "f")


_ISSUE: dict[str, Any] = {
    "type": "object",
    "required": ["file", "line", "field", "reason"],
    "properties": {
        "file": {"type": "string", "description": "`request`, or the file of an upload"},
        "line": {"type": ["integer", "null"]},
        "field": {"type": ["string", "null"], "description": "the field or column at fault"},
        "reason": {"type": "string"},
    },
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["title", "status", "detail"],
    "properties": {
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "issues": {"type": "array", "items": _ISSUE},
    },
}
_MEANING = {
    400: "The request is malformed (e.g. a body that is not JSON).",
    401: "No API token, or an unknown or revoked one.",
    403: "The token lacks the scope this route needs.",
    404: "No such account or loan (or one the token may not read).",
    409: "The request clashes with what is stored (payment id or Idempotency-Key reuse).",
    413: "The upload is too large.",
    422: "The request is invalid; `issues` names every field at fault and why.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (problem+json), plus 401/403/422."""
    wanted = sorted({401, 403, 422, *codes})
    return {
        code: {
            "description": _MEANING[code],
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        for code in wanted
    }
