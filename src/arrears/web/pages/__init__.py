"""Page routers, one module per area."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["routers"]


def routers() -> list[APIRouter]:
    from arrears.web.pages import (
        admin,
        audit,
        auth,
        compliance,
        desk,
        plans,
        portfolio,
        strategy,
        templates,
        visit_mobile,
        visit_reports,
        visits,
    )

    return [
        auth.router,
        desk.router,
        plans.router,
        portfolio.router,
        strategy.router,
        templates.router,
        audit.router,
        compliance.router,
        admin.router,
        visit_mobile.router,
        visit_reports.router,
        visits.router,
    ]
