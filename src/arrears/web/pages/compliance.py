"""Compliance officers: the gate's decisions — blocked attempts by rule, and "why" for any
contact (the reasons in both languages, the duties, when it would have passed, and the
attempt as ``arrears compliance explain`` replays it)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from arrears.domain.errors import NotFound
from arrears.domain.people import Permission
from arrears.services import contact_gate, desk
from arrears.web.context import render, require, web

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/compliance")
def decisions(
    request: Request,
    borrower: str = "",
    result: str = "",
    rule: str = "",
    page: int = 1,
) -> Response:
    require(request, Permission.REVIEW_COMPLIANCE)
    ctx = web(request)
    page = max(1, page)
    allowed = {"allowed": True, "blocked": False}.get(result)
    with ctx.engine.connect() as conn:
        rows, by_rule, total = contact_gate.list_decisions(
            conn,
            borrower_id=borrower.strip() or None,
            allowed=allowed,
            rule=rule.strip().upper() or None,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        notes = desk.flagged_notes(conn, limit=20)
    query = {k: v for k, v in {"borrower": borrower, "result": result, "rule": rule}.items() if v}
    return render(
        request,
        "compliance.html",
        rows=rows,
        by_rule=by_rule,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        f={"borrower": borrower, "result": result if allowed is not None else "", "rule": rule},
        query=urlencode(query),
        notes=notes,
    )


@router.get("/compliance/decisions/{decision_id}")
def decision(request: Request, decision_id: int) -> Response:
    require(request, Permission.REVIEW_COMPLIANCE)
    ctx = web(request)
    with ctx.engine.connect() as conn:
        found = contact_gate.decision_detail(conn, decision_id)
    if found is None:
        raise NotFound(f"no decision {decision_id}")
    return render(
        request,
        "compliance_decision.html",
        d=found,
        attempt_json=json.dumps(found.attempt, ensure_ascii=False, indent=2),
    )
