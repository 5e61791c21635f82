"""REST API v1 for systems: bearer tokens with scopes, problem+json errors.

- ``accounts:read``: ``GET /accounts``, ``GET /accounts/{borrower_id}``,
  ``GET /loans/{loan_id}/status``
- ``payments:write``: ``POST /payments`` (with an ``Idempotency-Key`` header)
- ``contacts:write``: ``POST /contacts``
- ``book:import``: ``POST /imports`` (a zipped interchange folder)
"""

from __future__ import annotations

from fastapi import APIRouter

from arrears.web.api import imports, reads, webhooks, writes

__all__ = ["router"]

router = APIRouter()
router.include_router(reads.router)
router.include_router(writes.router)
router.include_router(imports.router)
router.include_router(webhooks.router)
