"""What every page handler needs: the store, the clock, the signed-in user, the language,
CSRF checks and rendering."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine

from arrears.domain.errors import ArrearsError, Forbidden
from arrears.domain.people import Permission, may
from arrears.domain.products import ProductSettings
from arrears.services.auth import Session, resolve_session
from arrears.web.i18n import LOCALES, Lang, lang_for

__all__ = [
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "Clock",
    "CsrfError",
    "LoginRequired",
    "WebContext",
    "check_csrf",
    "client_of",
    "lang_of",
    "render",
    "require",
    "session_of",
    "web",
]

SESSION_COOKIE = "arrears_session"
LANG_COOKIE = "arrears_lang"
LOGIN_CSRF_COOKIE = "arrears_login_csrf"
TEMPLATES = Path(__file__).parent / "templates"


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> Any: ...


class LoginRequired(ArrearsError):
    """No valid session: pages redirect to the log-in page."""


class CsrfError(ArrearsError):
    """A form came without this session's CSRF token."""


@dataclass
class WebContext:
    engine: Engine
    clock: Clock
    default_locale: str
    lender_timezone: str
    cookie_secure: bool
    products: Mapping[str, ProductSettings] = field(default_factory=dict)
    # Requests served at once per process (pages and API calls run in worker threads; more
    # threads than this only queue for the GIL and the database pool).
    threads: int = 8
    compliance_pack: str = "CN"  # the rule pack every contact passes (CN or US)
    sms_secret: str | None = None  # the SMS gateway's HMAC secret (its delivery receipts)
    visit_plan_seconds: float = 5.0  # the door-visit planner's time limit (settings)
    visit_checkin_radius_m: int = 200  # door visits: farther needs a reason
    evidence_dir: Path | None = None  # door visits' photos and audio (none: uploads refused)
    lender_name: str = "贷款机构"  # what documents say about the lender (settings)
    object_how: str = "借款合同所列的客服热线"  # how a borrower objects or complains
    templates: Environment = field(
        default_factory=lambda: Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html", "svg"]),
            extensions=["jinja2.ext.i18n"],
            auto_reload=False,  # templates ship with the package
        )
    )


def web(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def session_of(request: Request) -> Session | None:
    """The signed-in session, cached on the request."""
    if hasattr(request.state, "session"):
        cached: Session | None = request.state.session
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token:
        ctx = web(request)
        with ctx.engine.begin() as conn:
            found = resolve_session(conn, token, ctx.clock.now())
    request.state.session = found
    return found


def require(request: Request, permission: Permission | None = None) -> Session:
    """The session, or LoginRequired; Forbidden when the role lacks ``permission``."""
    session = session_of(request)
    if session is None:
        raise LoginRequired("log in first")
    if permission is not None and not may(session.user.role, permission):
        raise Forbidden("your role may not open this page")
    return session


def lang_of(request: Request) -> Lang:
    ctx = web(request)
    session = session_of(request)
    chosen = session.user.locale if session and session.user.locale else None
    chosen = chosen or request.cookies.get(LANG_COOKIE)
    return lang_for(chosen, ctx.default_locale, ctx.lender_timezone)


def check_csrf(session: Session, form: Mapping[str, Any]) -> None:
    token = form.get("csrf_token")
    if not isinstance(token, str) or not secrets.compare_digest(token, session.csrf_token):
        raise CsrfError("the form has expired or did not come from this site; reload the page")


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    ctx = web(request)
    lang = lang_of(request)
    session = session_of(request)
    role = session.user.role if session else None
    html = ctx.templates.get_template(template).render(
        request=request,
        _=lang.gettext,
        gettext=lang.gettext,
        ngettext=lang.ngettext,
        lang=lang,
        locales=LOCALES,
        user=session.user if session else None,
        csrf_token=session.csrf_token if session else "",
        can=(lambda p: role is not None and may(role, Permission(p))),
        here=request.url.path,
        quote=quote,
        **values,
    )
    return HTMLResponse(html, status_code=status_code, headers={"Content-Language": lang.tag})
