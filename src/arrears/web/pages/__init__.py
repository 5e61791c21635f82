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
        portfolio,
        strategy,
        templates,
    )

    return [
        auth.router,
        desk.router,
        portfolio.router,
        strategy.router,
        templates.router,
        audit.router,
        compliance.router,
        admin.router,
    ]
